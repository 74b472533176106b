"""Shared fixtures: a private real Redis server, the app, and Twilio-signed requests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import redis
from twilio.request_validator import RequestValidator

from hotline import create_app
from hotline.store import EmbeddedRedis

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "test-auth-token-0123456789abcdef"
PUBLIC = "https://hotline.example.org"
CALL = {
    "CallSid": "CA" + "1" * 32,
    "AccountSid": "AC" + "0" * 32,
    "From": "+32000000000",
    "To": "+32000000001",
    "CallStatus": "in-progress",
}


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
def app(redis_db: redis.Redis, redis_server: EmbeddedRedis):
    return create_app({
        "TWILIO_AUTH_TOKEN": TOKEN,
        "PUBLIC_BASE_URL": PUBLIC,
        "REDIS_URL": redis_server.url,
        "TESTING": True,
    })


@pytest.fixture
def client(app):
    return app.test_client()


def sign(url: str, params: dict[str, str], token: str = TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, params)


def twilio_post(client, path: str, params: dict[str, str] | None = None, **extra):
    """POST as Twilio does: form fields signed with the auth token for PUBLIC + path."""
    params = {**CALL, **(params or {})}
    return client.post(path, data=params, headers={"X-Twilio-Signature": sign(PUBLIC + path,
                                                                               params)}, **extra)


@pytest.fixture
def content_copy(tmp_path: Path) -> Path:
    """A writable copy of the content folders, to break on purpose."""
    for folder in ("ivr_scripts", "sms_templates"):
        if (ROOT / folder).exists():
            shutil.copytree(ROOT / folder, tmp_path / folder)
    return tmp_path
