"""'Send me this by SMS' from the voice line: the webhook queues, a real RQ worker sends through
the twilio library to a local server that answers as Twilio's Messages API does (the first test
starts the `hotline worker` process; the others work the queue with RQ in this process)."""

from __future__ import annotations

import pytest
from rq import Queue

from tests.helpers import (
    ACCOUNT,
    CALL,
    HOTLINE_NUMBER,
    MOBILE,
    run_jobs,
    run_worker_process,
    sms_post,
    twilio_post,
    twiml,
)


def press_sms(client, number: str = MOBILE, call_sid: str = CALL["CallSid"]):
    root = twiml(twilio_post(client, "/voice/step?node=cpas_what&lang=en&retry=0",
                             {"Digits": "2", "From": number, "CallSid": call_sid}))
    return root.find("Gather")[0].text


@pytest.mark.slow
def test_item_is_sent_by_a_real_worker(services, client, sandbox, twilio_env, redis_db):
    said = press_sms(client)
    assert said == services.content.text("en", "sms_sent")
    assert sandbox.messages == []  # the webhook only queued it
    assert Queue("hotline", connection=redis_db).count == 1
    for key in redis_db.keys("*"):
        if redis_db.type(key) == b"hash":
            assert b"470123456" not in b"".join(redis_db.hgetall(key).values())
    run_worker_process(twilio_env)
    assert len(sandbox.messages) == 1
    message = sandbox.messages[0]
    assert message["to"] == MOBILE and message["from"] == HOTLINE_NUMBER
    assert message["body"] == services.sms.item("en", "cpas_what")
    assert message["body"].endswith("#11")  # its shortcut on the voice line


def test_pressing_twice_in_one_call_sends_once(client, sandbox, twilio_env):
    press_sms(client)
    press_sms(client)
    run_jobs(twilio_env)
    assert len(sandbox.messages) == 1
    press_sms(client, call_sid="CA" + "9" * 32)  # another call: another SMS
    run_jobs(twilio_env)
    assert len(sandbox.messages) == 2


def test_nothing_is_sent_to_an_opted_out_number(client, sandbox, twilio_env):
    sms_post(client, "STOP")
    press_sms(client)
    run_jobs(twilio_env)
    assert sandbox.messages == []
    sms_post(client, "START")
    press_sms(client, call_sid="CA" + "8" * 32)
    run_jobs(twilio_env)
    assert len(sandbox.messages) == 1


@pytest.mark.parametrize("number", ["anonymous", "+266696687", "+3225550001", "+33612345678"])
def test_no_sms_to_a_withheld_fixed_or_foreign_number(services, client, redis_db, number):
    said = press_sms(client, number=number)
    assert said == services.content.text("en", "sms_unavailable")
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
