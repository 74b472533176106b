"""Callback requests end to end through the webhooks: by voice and by SMS, joins, cancel,
opening hours, the voice message, and mediators' SMS commands."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pytest
from rq import Queue

from hotline.app import create_app
from tests.helpers import (
    AMINA_PHONE,
    MOBILE,
    PUBLIC,
    SECRET,
    TOKEN,
    next_url,
    post_step,
    said,
    sms_post,
    sms_replies,
    twilio_post,
)


def open_by_voice(client, number=MOBILE, topic="1", call="CA" + "1" * 32):
    root = post_step(client, "/voice/step?node=amu&lang=en&retry=0", "0", number, call)
    root = post_step(client, next_url(root), "1", number, call)          # confirm the number
    return post_step(client, next_url(root), topic, number, call)         # choose the topic


def test_voice_request_confirms_the_number_then_topic_message_and_reference(client, services):
    content = services.content
    root = post_step(client, "/voice/step?node=amu&lang=en&retry=0", "0")
    texts = said(root)
    assert texts[0] == content.text("en", "cb_intro")
    assert "0 4 7 0, 1 2, 3 4, 5 6" in texts[-3]
    query = parse_qs(urlsplit(next_url(root)).query)
    assert (query["node"], query["step"]) == (["mediator"], ["confirm"])
    root = post_step(client, next_url(root), "1")
    assert said(root)[0] == content.text("en", "cb_topic")
    root = post_step(client, next_url(root), "4")                          # medical care
    record = root.find("Record")
    assert record is not None and record.get("maxLength") == "60"
    assert said(root) == [content.text("en", "cb_message")]
    ref = parse_qs(urlsplit(record.get("action")).query)["ref"][0]
    assert record.get("recordingStatusCallback") == f"/voice/recording?ref={ref}"
    ticket = services.callbacks.get(ref)
    assert (ticket.lang, ticket.topic, ticket.status) == ("en", "amu", "waiting")
    assert services.privacy.decrypt(ticket.number) == MOBILE
    assert services.callbacks.waiting("en") == [ref]
    assert Queue("hotline", connection=services.rq).count == 1  # the confirmation SMS
    root = post_step(client, record.get("action"))                      # after the recording
    texts = said(root)
    spoken_ref = f"{' '.join(ref[:3])}, {' '.join(ref[3:])}"
    assert spoken_ref in texts[0]
    assert content.text("en", "cb_sms_follows") in texts
    root = post_step(client, next_url(root), "1")
    assert spoken_ref in said(root)[0]                                  # 1 repeats it
    root = post_step(client, next_url(root), "9")
    assert said(root)[0] == content.speech("en", content.text("en", "opt_cpas", digit="1"))


def test_recording_callback_attaches_the_message_once(client, services):
    root = open_by_voice(client)
    ref = parse_qs(urlsplit(root.find("Record").get("action")).query)["ref"][0]
    params = {"RecordingSid": "RE" + "1" * 32, "RecordingStatus": "completed",
              "RecordingUrl": "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1"}
    for _ in range(2):
        assert twilio_post(client, f"/voice/recording?ref={ref}", params).status_code == 204
    assert services.callbacks.get(ref).voice.endswith("/RE1")
    assert [e["event"] for e in services.callbacks.history(ref)].count("voice message") == 1
    assert twilio_post(client, f"/voice/recording?ref={ref}", {}).status_code == 400


def test_withheld_number_types_one(client, services):
    root = post_step(client, "/voice/step?node=main&lang=fr&retry=0", "0", number="anonymous")
    assert said(root)[-1] == services.content.text("fr", "cb_enter_number")
    gather = root.find("Gather")
    assert gather.get("finishOnKey") == "#" and gather.get("numDigits") is None
    root = post_step(client, next_url(root), "0470 12 34 99".replace(" ", ""), number="anonymous")
    assert "0 4 7 0, 1 2, 3 4, 9 9" in said(root)[0]
    root = post_step(client, next_url(root), "1", number="anonymous")
    root = post_step(client, next_url(root), "0", number="anonymous")    # "something else"
    ref = parse_qs(urlsplit(root.find("Record").get("action")).query)["ref"][0]
    ticket = services.callbacks.get(ref)
    assert services.privacy.decrypt(ticket.number) == "+32470123499"
    assert ticket.topic == "other" and ticket.lang == "fr"


@pytest.mark.parametrize("typed", ["0900123456", "0033612345678", "12", "0470"])
def test_premium_foreign_or_short_numbers_are_refused(client, services, typed):
    root = post_step(client, "/voice/step?node=mediator&step=enter&lang=en&retry=0", typed,
                     number="anonymous")
    assert said(root)[0] == services.content.text("en", "cb_bad_number")
    assert parse_qs(urlsplit(next_url(root)).query)["retry"] == ["1"]


def test_a_second_request_joins_the_first(client, services):
    first = open_by_voice(client)
    ref = parse_qs(urlsplit(first.find("Record").get("action")).query)["ref"][0]
    second = open_by_voice(client, topic="2", call="CA" + "2" * 32)
    assert second.find("Record") is None
    assert f"{' '.join(ref[:3])}, {' '.join(ref[3:])}" in said(second)[0]
    assert said(second)[0].startswith("You have already asked")
    assert services.callbacks.waiting("en") == [ref]


def test_outside_opening_hours_the_line_says_when_callbacks_resume(redis_server, redis_db):
    tomorrow = (dt.datetime.now(dt.UTC).weekday() + 1) % 7
    day = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[tomorrow]
    app = create_app({"TWILIO_AUTH_TOKEN": TOKEN, "PUBLIC_BASE_URL": PUBLIC, "SECRET_KEY": SECRET,
                      "REDIS_URL": redis_server.url, "OPENING_HOURS": f"{day} 09:30-12:00",
                      "TIMEZONE": "UTC"})
    root = post_step(app.test_client(), "/voice/step?node=main&lang=en&retry=0", "0")
    day_name = app.extensions["hotline"].content.text("en", f"day_{tomorrow}")
    assert said(root)[1] == (f"Mediators are not working at the moment. They call back again "
                             f"from {day_name} at 9:30.")


def test_sms_request_join_and_cancel(client, services):
    sms = services.sms
    sms_post(client, "CPAS")
    reply = sms_replies(sms_post(client, "RAPPEL je ne comprends pas la lettre"))[0]
    ref = services.callbacks.waiting("fr")[0]
    assert reply == sms.text("fr", "cb_created", ref=ref)
    ticket = services.callbacks.get(ref)
    assert ticket.topic == "cpas"
    sealed = services.callbacks.history(ref)[1]["sealed"]  # encrypted at rest (issue 14, item 11)
    assert services.privacy.decrypt(sealed) == "je ne comprends pas la lettre"
    assert sms_replies(sms_post(client, "rappel")) == [sms.text("fr", "cb_joined", ref=ref)]
    assert sms_replies(sms_post(client, "ANNULER")) == [sms.text("fr", "cb_cancelled", ref=ref)]
    assert services.callbacks.get(ref).status == "cancelled"
    assert sms_replies(sms_post(client, "ANNULER")) == [sms.text("fr", "cb_none")]


def test_zero_in_the_sms_menu_asks_for_a_callback(client, services):
    sms_post(client, "HELP")
    reply = sms_replies(sms_post(client, "0"))[0]
    assert reply == services.sms.text("en", "cb_created", ref=services.callbacks.waiting("en")[0])


def test_mediator_sms_commands(client, services, mediators):
    assert sms_replies(sms_post(client, "NEXT", number=AMINA_PHONE)) == [
        "No ticket waiting in your languages."]
    sms_post(client, "AIDE")
    sms_post(client, "RAPPEL")
    ref = services.callbacks.waiting("fr")[0]
    reply = sms_replies(sms_post(client, "suivant", number=AMINA_PHONE))[0]
    assert reply.startswith(f"Ticket {ref} (fr, other): call +32470123456")
    assert sms_replies(sms_post(client, f"DONE {ref}", number=AMINA_PHONE)) == [
        f"Ticket {ref}: done."]
    assert sms_replies(sms_post(client, f"DONE {ref}", number=AMINA_PHONE)) == [
        f"Ticket {ref}: ticket is done."]
    assert sms_replies(sms_post(client, "hello", number=AMINA_PHONE))[0].startswith(
        "Commands:")


def test_three_failed_attempts_make_it_unreachable_and_tell_the_caller(client, services,
                                                                       mediators):
    sms_post(client, "AIDE")
    sms_post(client, "RAPPEL")
    ref = services.callbacks.waiting("fr")[0]
    queue = Queue("hotline", connection=services.rq)
    before = queue.count
    for expected in ("waiting", "waiting", "unreachable"):
        sms_post(client, "NEXT", number=AMINA_PHONE)
        assert sms_replies(sms_post(client, f"FAIL {ref}", number=AMINA_PHONE)) == [
            f"Ticket {ref}: {expected}."]
    assert queue.count == before + 1
    job = queue.jobs[-1]
    assert job.args[1] == services.sms.text("fr", "cb_unreachable", ref=ref)
    assert services.privacy.decrypt(job.args[0]) == MOBILE


def request_for_typed_number(client, typed: str, call: str) -> list[str]:
    """One callback request in call `call` for a number typed on the keypad; what is said."""
    root = post_step(client, "/voice/step?node=mediator&step=enter&lang=en&retry=0", typed,
                     number="anonymous", call=call)
    root = post_step(client, next_url(root), "1", number="anonymous", call=call)  # confirm
    root = post_step(client, next_url(root), "1", number="anonymous", call=call)  # topic CPAS
    return said(root)


def test_one_call_cannot_open_tickets_for_many_typed_numbers(client, services):
    """Each ticket texts its number: one call may open two, then the line says it cannot take
    more (issue 14, item 5: any number of tickets, each with an SMS)."""
    call = "CA" + "7" * 32
    for typed in ("0470123401", "0470123402"):
        assert request_for_typed_number(client, typed, call) == [
            services.content.text("en", "cb_message")]
    third = request_for_typed_number(client, "0470123403", call)
    assert third[0] == services.content.text("en", "cb_unavailable")
    assert len(services.redis.keys("cb:ticket:*")) == 2


def test_a_number_gets_at_most_the_daily_requests_across_calls(client, services):
    services.settings = services.settings.replace(callbacks_per_day=1)
    first = request_for_typed_number(client, "0470123404", "CA" + "8" * 32)
    assert first == [services.content.text("en", "cb_message")]
    again = request_for_typed_number(client, "0470123404", "CA" + "9" * 32)
    assert again[0] == services.content.text("en", "cb_unavailable")
