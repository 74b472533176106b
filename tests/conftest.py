"""Shared fixtures: a private real Redis server, the app, and Twilio-signed requests."""

from __future__ import annotations

import secrets
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import redis
from twilio.request_validator import RequestValidator

from hotline import create_app
from hotline.state.store import EmbeddedRedis
from hotline.twilio.sandbox import TwilioSandbox

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "test-auth-token-0123456789abcdef"
SECRET = "test-secret-key-for-numbers"
MOBILE = "+32470123456"  # libphonenumber's example Belgian mobile number
PUBLIC = "https://hotline.example.org"
CALL = {
    "CallSid": "CA" + "1" * 32,
    "AccountSid": "AC" + "0" * 32,
    "From": "+32000000000",
    "To": "+32000000001",
    "CallStatus": "in-progress",
}


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


def sign(url: str, params: dict[str, str], token: str = TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, params)


def twilio_post(client, path: str, params: dict[str, str] | None = None, **extra):
    """POST as Twilio does: form fields signed with the auth token for PUBLIC + path."""
    params = {**CALL, **(params or {})}
    return client.post(path, data=params, headers={"X-Twilio-Signature": sign(PUBLIC + path,
                                                                               params)}, **extra)


def sms_post(client, body: str, number: str = MOBILE, sid: str | None = None):
    """An incoming SMS as Twilio posts it, signed."""
    params = {"MessageSid": sid or "SM" + secrets.token_hex(16), "AccountSid": CALL["AccountSid"],
              "From": number, "To": CALL["To"], "Body": body, "NumMedia": "0"}
    return client.post("/sms", data=params,
                       headers={"X-Twilio-Signature": sign(PUBLIC + "/sms", params)})


def sms_replies(response) -> list[str]:
    """The texts of the <Message> elements of a messaging TwiML answer."""
    assert response.status_code == 200, response.get_data(as_text=True)
    root = ET.fromstring(response.get_data())
    assert root.tag == "Response"
    return [m.text or "" for m in root.iter("Message")]


ACCOUNT = "AC" + "5" * 32
HOTLINE_NUMBER = "+3225550000"


@pytest.fixture
def sandbox():
    server = TwilioSandbox(ACCOUNT, TOKEN)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def twilio_env(sandbox, redis_server):
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
