"""The WSGI entry point for gunicorn and any Procfile host: `gunicorn hotline.wsgi:app`."""

import logging

from hotline.app import create_app
from hotline.settings import from_environment_or_exit

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
app = create_app(settings=from_environment_or_exit())
