"""Shared fixtures: a private real Redis server, the Twilio sandbox, the app and its services.
The helpers they use, and the test settings, are in tests/helpers.py."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import redis

from hotline import create_app
from hotline.state.store import EmbeddedRedis
from hotline.twilio.sandbox import TwilioSandbox
from tests.helpers import (
    ACCOUNT,
    HOTLINE_NUMBER,
    PUBLIC,
    ROOT,
    SECRET,
    TOKEN,
    add_mediators,
)


@pytest.fixture(autouse=True)
def empty_audio_cache(request: pytest.FixtureRequest, tmp_path: Path,
                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Outside the audio tests, an app sees an empty audio cache of its own (so it speaks with
    <Say>), never the developer's rendered files."""
    if not request.module.__name__.split(".")[-1].startswith("test_audio"):
        monkeypatch.setenv("HOTLINE_AUDIO_ROOT", str(tmp_path / "audio_cache"))


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory):
    """A real redis-server on a free loopback port, private to this test run."""
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_db(redis_server: EmbeddedRedis) -> redis.Redis:
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    return client


@pytest.fixture
def sandbox():
    server = TwilioSandbox(ACCOUNT, TOKEN)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def app(redis_db: redis.Redis, redis_server: EmbeddedRedis, sandbox, tmp_path):
    return create_app({
        "VAR_DIR": tmp_path / "var",
        "TWILIO_ACCOUNT_SID": ACCOUNT,
        "TWILIO_API_BASE_URL": sandbox.base_url,
        "TWILIO_PHONE_NUMBER": HOTLINE_NUMBER,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "PUBLIC_BASE_URL": PUBLIC,
        "REDIS_URL": redis_server.url,
        "SECRET_KEY": SECRET,
        "RETRY_BASE_SECONDS": 0,  # retries at once: the tests do not wait for backoff
        "TESTING": True,
    })


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def services(app):
    """The app's services: content, Redis, callbacks, mediators, privacy keys, its config."""
    return app.extensions["hotline"]


@pytest.fixture
def mediators(services) -> None:
    """Two mediator accounts: amina (fr, ar) and bram (nl, fr); see helpers.add_mediators."""
    add_mediators(services)


@pytest.fixture
def twilio_env(sandbox, redis_server):
    """The environment of a worker serving the app: the same Redis, keys and Twilio sandbox."""
    return {"TWILIO_ACCOUNT_SID": ACCOUNT, "TWILIO_AUTH_TOKEN": TOKEN,
            "TWILIO_API_BASE_URL": sandbox.base_url, "TWILIO_PHONE_NUMBER": HOTLINE_NUMBER,
            "HOTLINE_SECRET_KEY": SECRET, "REDIS_URL": redis_server.url,
            "HOTLINE_RETRY_BASE_SECONDS": "0"}


@pytest.fixture
def content_copy(tmp_path: Path) -> Path:
    """A writable copy of the content folders, to break on purpose."""
    for folder in ("ivr_scripts", "sms_templates"):
        if (ROOT / folder).exists():
            shutil.copytree(ROOT / folder, tmp_path / folder)
    return tmp_path
