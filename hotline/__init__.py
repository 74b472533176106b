"""hotline: an SMS and voice information line on social assistance for migrants in Belgium."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, jsonify

from hotline import config
from hotline.audio import AudioLibrary
from hotline.content import Content, load_content
from hotline.store import redis_status

log = logging.getLogger("hotline")


class ConfigError(Exception):
    """The service cannot start with these settings."""


@dataclass
class Services:
    """What every request shares: the validated content and the audio library."""

    content: Content
    audio: AudioLibrary


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    """Build the service. Raises ContentError for broken content, ConfigError for bad settings."""
    app = Flask(__name__)
    app.config.update(config.from_environment())
    app.config.update(overrides or {})
    if not app.config["TWILIO_AUTH_TOKEN"] and not app.config["INSECURE_DEV"]:
        raise ConfigError(
            "TWILIO_AUTH_TOKEN is not set, so Twilio's signatures cannot be checked. Set it, "
            "or set HOTLINE_INSECURE_DEV=1 for local development only (`hotline run` makes "
            "a local token for you)."
        )
    if app.config["INSECURE_DEV"]:
        log.warning("!" * 72)
        log.warning("INSECURE DEVELOPMENT MODE: Twilio signatures are NOT checked.")
        log.warning("Never expose this process to the internet.")
        log.warning("!" * 72)
    content = load_content(app.config["CONTENT_ROOT"])
    app.extensions["hotline"] = Services(content=content, audio=AudioLibrary(
        app.config["AUDIO_ROOT"]))

    from hotline import media, voice

    app.register_blueprint(voice.bp)
    app.register_blueprint(media.bp)

    @app.get("/healthz")
    def healthz() -> Response:
        """Liveness: the voice line answers without Redis, so Redis is reported, not required."""
        return jsonify(status="ok", languages=list(content.languages), redis=redis_status(app))

    return app
