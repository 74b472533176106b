"""'Send me this by SMS' from the voice line: the webhook queues, a real RQ worker sends through
the twilio library to a local server that answers as Twilio's Messages API does."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from rq import Queue

from hotline import create_app
from tests.conftest import (
    ACCOUNT,
    CALL,
    HOTLINE_NUMBER,
    MOBILE,
    PUBLIC,
    SECRET,
    TOKEN,
    sms_post,
    twilio_post,
)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def app(twilio_env, redis_db):
    return create_app({"TWILIO_ACCOUNT_SID": ACCOUNT, "TWILIO_AUTH_TOKEN": TOKEN,
                       "TWILIO_API_BASE_URL": twilio_env["TWILIO_API_BASE_URL"],
                       "TWILIO_PHONE_NUMBER": HOTLINE_NUMBER, "SECRET_KEY": SECRET,
                       "PUBLIC_BASE_URL": PUBLIC, "REDIS_URL": twilio_env["REDIS_URL"]})


def run_worker(env: dict[str, str]) -> None:
    """A real worker process (`hotline worker`, an RQ worker) that works the queue until it is
    empty, then exits."""
    done = subprocess.run(
        [str(Path(sys.executable).parent / "hotline"), "worker", "--burst"],
        env={**os.environ, **env}, cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert MOBILE not in done.stdout + done.stderr, "the worker logged a number in clear"


def press_sms(client, number: str = MOBILE, call_sid: str = CALL["CallSid"]):
    response = twilio_post(client, "/voice/step?node=cpas_what&lang=en&retry=0",
                           {"Digits": "2", "From": number, "CallSid": call_sid})
    assert response.status_code == 200
    return ET.fromstring(response.get_data()).find("Gather")[0].text


def test_item_is_sent_by_a_real_worker(app, client, sandbox, twilio_env, redis_db):
    sms = app.extensions["hotline"].sms
    said = press_sms(client)
    assert said == app.extensions["hotline"].content.text("en", "sms_sent")
    assert sandbox.messages == []  # the webhook only queued it
    assert Queue("hotline", connection=redis_db).count == 1
    for key in redis_db.keys("*"):
        if redis_db.type(key) == b"hash":
            assert b"470123456" not in b"".join(redis_db.hgetall(key).values())
    run_worker(twilio_env)
    assert len(sandbox.messages) == 1
    message = sandbox.messages[0]
    assert message["to"] == MOBILE and message["from"] == HOTLINE_NUMBER
    assert message["body"] == sms.languages["en"].texts["cpas_what"]


def test_pressing_twice_in_one_call_sends_once(client, sandbox, twilio_env):
    press_sms(client)
    press_sms(client)
    run_worker(twilio_env)
    assert len(sandbox.messages) == 1
    press_sms(client, call_sid="CA" + "9" * 32)  # another call: another SMS
    run_worker(twilio_env)
    assert len(sandbox.messages) == 2


def test_nothing_is_sent_to_an_opted_out_number(client, sandbox, twilio_env):
    sms_post(client, "STOP")
    press_sms(client)
    run_worker(twilio_env)
    assert sandbox.messages == []
    sms_post(client, "START")
    press_sms(client, call_sid="CA" + "8" * 32)
    run_worker(twilio_env)
    assert len(sandbox.messages) == 1


@pytest.mark.parametrize("number", ["anonymous", "+266696687", "+3225550001", "+33612345678"])
def test_no_sms_to_a_withheld_fixed_or_foreign_number(app, client, redis_db, number):
    said = press_sms(client, number=number)
    assert said == app.extensions["hotline"].content.text("en", "sms_unavailable")
    assert Queue("hotline", connection=redis_db).count == 0


def test_sandbox_checks_credentials(sandbox):
    from twilio.base.exceptions import TwilioRestException

    from hotline.settings import from_environment
    from hotline.twilio.rest import send_message, twilio_client

    client = twilio_client(from_environment({
        "TWILIO_ACCOUNT_SID": ACCOUNT, "TWILIO_AUTH_TOKEN": "wrong",
        "TWILIO_API_BASE_URL": sandbox.base_url}))
    with pytest.raises(TwilioRestException) as caught:
        send_message(client, HOTLINE_NUMBER, MOBILE, "hello")
    assert caught.value.status == 401 and caught.value.code == 20003
