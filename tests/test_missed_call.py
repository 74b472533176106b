"""The missed-call line, end to end against the Twilio sandbox: a ring on a missed-call number is
rejected unanswered and followed by exactly one callback (or SMS) within the limits, caps and
hours; a busy or unanswered callback is tried twice more; the callback's TwiML is the normal menu
in the remembered language."""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import time
import xml.etree.ElementTree as ET
from urllib.parse import parse_qs, urlsplit

import pytest
from rq.job import Job
from rq.registry import ScheduledJobRegistry

from hotline.app import create_app
from hotline.callbacks import missed
from hotline.services import job_queue
from hotline.state import sms as sms_state
from hotline.state.store import free_port
from tests.helpers import (
    ACCOUNT,
    HOTLINE_NUMBER,
    MOBILE,
    PUBLIC,
    SECRET,
    TOKEN,
    next_url,
    run_jobs,
    said,
    sms_post,
    sms_replies,
    twilio_post,
    twiml,
)
from tests.test_privacy import digits_of, every_value

MISSED_LINE = "+3225550001"  # the line's missed-call number (HOTLINE_NUMBER is its paid line)
ALWAYS = "mon-sun 00:00-23:59"


def make_app(redis_server, sandbox, tmp_path, **extra):
    """The service with a missed-call number, calling back at once, open all day (in UTC)."""
    return create_app({
        "VAR_DIR": tmp_path / "var", "TWILIO_ACCOUNT_SID": ACCOUNT,
        "TWILIO_API_BASE_URL": sandbox.base_url, "TWILIO_PHONE_NUMBER": HOTLINE_NUMBER,
        "TWILIO_AUTH_TOKEN": TOKEN, "PUBLIC_BASE_URL": PUBLIC, "REDIS_URL": redis_server.url,
        "SECRET_KEY": SECRET, "RETRY_BASE_SECONDS": 0, "TESTING": True,
        "MISSED_CALL_NUMBERS": MISSED_LINE, "MISSED_CALL_DELAY_SECONDS": "0",
        "OPENING_HOURS": ALWAYS, "TIMEZONE": "UTC", **extra})


@pytest.fixture
def line(redis_db, redis_server, sandbox, tmp_path):
    app = make_app(redis_server, sandbox, tmp_path)
    if not app.extensions["hotline"].hours.is_open(dt.datetime.now(dt.UTC)):
        pytest.skip("today is a Belgian public holiday, or it is 23:59 UTC: the line is closed")
    return app


def ring(app, number: str = MOBILE, to: str = MISSED_LINE):
    """A ring on the missed-call number, as Twilio posts it; the parsed TwiML answer."""
    return twiml(twilio_post(app.test_client(), "/voice", {
        "From": number, "To": to, "Direction": "inbound", "CallStatus": "ringing",
        "CallSid": "CA" + secrets.token_hex(16)}))


def assert_rejected(root) -> None:
    """Twilio does not pick up: <Reject> is the first (and only) verb, nothing is spoken."""
    assert [child.tag for child in root] == ["Reject"]
    assert root[0].get("reason") == "busy"


def via(app):
    """How the sandbox reaches the service: its signed requests into the Flask app."""
    client = app.test_client()

    def send(url: str, form: dict[str, str], headers: dict[str, str]) -> tuple[int, str]:
        parts = urlsplit(url)
        assert f"{parts.scheme}://{parts.netloc}" == PUBLIC
        response = client.post(parts.path + (f"?{parts.query}" if parts.query else ""),
                               data=form, headers=headers)
        return response.status_code, response.get_data(as_text=True)

    return send


def scheduled(services) -> list[tuple[Job, float]]:
    """The callbacks RQ holds for later, with when they are due (a timestamp)."""
    registry = ScheduledJobRegistry(queue=job_queue(services.rq))
    jobs = [(Job.fetch(i, connection=services.rq), services.rq.zscore(registry.key, i))
            for i in registry.get_job_ids()]
    return [(job, at) for job, at in jobs if job.func_name.endswith("missed_call_back")]


def release(services, job: Job) -> None:
    """Its time has come: what RQ's scheduler does with a due job, now."""
    ScheduledJobRegistry(queue=job_queue(services.rq)).remove(job)
    job_queue(services.rq).enqueue_job(job)


def test_a_ring_is_rejected_and_called_back_once_into_the_remembered_menu(
        line, sandbox, twilio_env):
    services = line.extensions["hotline"]
    sms_state.remember_language(services.redis, services.privacy.number_key(MOBILE), "nl")
    for _ in range(3):  # rings again, to be sure: one callback
        assert_rejected(ring(line))
    assert sandbox.calls == []  # nothing is placed by the webhook itself
    run_jobs(twilio_env)
    (call,) = sandbox.calls
    assert (call["to"], call["from"], sandbox.field(call["sid"], "Url")) == (
        MOBILE, HOTLINE_NUMBER, f"{PUBLIC}/voice")
    assert (sandbox.field(call["sid"], "StatusCallback") or "").startswith(
        f"{PUBLIC}/voice/missed/status?")

    status, body = sandbox.answer(call["sid"], send=via(line))
    assert status == 200
    answered = ET.fromstring(body)
    # The normal welcome of a returning caller, in Dutch: what a paid call to the line hears.
    inbound = twiml(twilio_post(line.test_client(), "/voice", {"From": MOBILE,
                                                              "To": HOTLINE_NUMBER}))
    assert said(answered) == said(inbound)
    content = services.content
    assert said(answered)[0] == content.speech("nl", content.text("nl", "welcome_back"))
    dutch = {content.languages["nl"].say_language}
    assert {say.get("language") for say in answered.iter("Say")} == dutch

    # The callback goes on like any call: its keys lead on in Dutch, and "by SMS" texts the
    # person called, never the line's own number (which is the call's From).
    params = {"From": HOTLINE_NUMBER, "To": MOBILE, "Direction": "outbound-api",
              "CallSid": call["sid"]}
    pressed = twiml(twilio_post(line.test_client(), next_url(answered), {**params, "Digits": "1"}))
    assert said(pressed) and {s.get("language") for s in pressed.iter("Say")} == dutch
    item = next(n for n in content.nodes.values() if n.type == "info")
    by_sms = next(o.digit for o in content.options_of(item) if o.action == "sms")
    twiml(twilio_post(line.test_client(), f"/voice/step?node={item.name}&lang=nl&retry=0",
                      {**params, "Digits": by_sms}))
    run_jobs(twilio_env)
    assert [(m["to"], m["body"]) for m in sandbox.messages] == [
        (MOBILE, services.sms.item("nl", item.name))]

    assert sandbox.report(call["sid"], "completed", 75, send=via(line))[0] == 204
    assert sandbox.report(call["sid"], "completed", 75, send=via(line))[0] == 204  # a retry
    assert int(services.redis.get(f"cap:callsec:{dt.datetime.now(dt.UTC):%Y%m%d}")) == 75
    run_jobs(twilio_env)
    assert len(sandbox.calls) == 1 and scheduled(services) == []


def test_busy_or_unanswered_callbacks_are_tried_twice_more(line, sandbox, twilio_env):
    services = line.extensions["hotline"]
    assert_rejected(ring(line))
    run_jobs(twilio_env)
    for attempt, outcome in enumerate(["busy", "no-answer", "no-answer"]):
        assert len(sandbox.calls) == attempt + 1
        call = sandbox.calls[-1]
        callback = sandbox.field(call["sid"], "StatusCallback") or ""
        assert parse_qs(urlsplit(callback).query)["try"] == [str(attempt)]
        before = time.time()
        for _ in range(2):  # Twilio may send a status callback twice: one retry
            assert sandbox.report(call["sid"], outcome, send=via(line))[0] == 204
        later = scheduled(services)
        if attempt == 2:
            assert later == []  # tried three times in all: no more
            break
        (job, due), = later
        assert before + missed.RETRY_SECONDS - 2 <= due <= time.time() + missed.RETRY_SECONDS + 2
        run_jobs(twilio_env)
        assert len(sandbox.calls) == attempt + 1  # not before it is due
        release(services, job)
        run_jobs(twilio_env)
    assert len(sandbox.calls) == 3
    assert {c["to"] for c in sandbox.calls} == {MOBILE}


def test_a_failed_or_answered_callback_is_not_tried_again(line, sandbox, twilio_env):
    services = line.extensions["hotline"]
    assert_rejected(ring(line))
    run_jobs(twilio_env)
    assert sandbox.report(sandbox.calls[0]["sid"], "failed", send=via(line))[0] == 204
    assert scheduled(services) == []


def test_rings_within_minutes_are_one_callback_and_a_day_has_a_limit(
        redis_db, redis_server, sandbox, tmp_path, twilio_env, monkeypatch):
    app = make_app(redis_server, sandbox, tmp_path, MISSED_CALLBACKS_PER_DAY="2")
    if not app.extensions["hotline"].hours.is_open(dt.datetime.now(dt.UTC)):
        pytest.skip("the line is closed today")
    monkeypatch.setattr(missed, "MERGE_SECONDS", 1)  # "within minutes", in a second
    for _ in range(3):
        assert_rejected(ring(app))
    run_jobs(twilio_env)
    assert len(sandbox.calls) == 1
    time.sleep(1.2)
    assert_rejected(ring(app))  # later: a second callback
    time.sleep(1.2)
    assert_rejected(ring(app))  # the day's two are used up
    run_jobs(twilio_env)
    assert len(sandbox.calls) == 2
    assert_rejected(ring(app, "+32470123499"))  # another number has its own
    run_jobs(twilio_env)
    assert [c["to"] for c in sandbox.calls][-1] == "+32470123499"


@pytest.mark.parametrize("caller", [
    "+33612345678",      # a French mobile: not an allowed country
    "+3290012345",       # a Belgian premium-rate number
    "+266696687",        # "anonymous": no caller ID
    "",
    "client:Anonymous",
])
def test_only_numbers_of_allowed_countries_and_never_premium_rate(line, sandbox, twilio_env,
                                                                   caller):
    assert_rejected(ring(line, caller))
    run_jobs(twilio_env)
    assert sandbox.calls == [] and sandbox.messages == []


def test_the_daily_call_minute_cap_stops_callbacks(line, sandbox, twilio_env):
    services = line.extensions["hotline"]
    cap = services.settings.call_minutes_daily_cap * 60
    services.redis.set(f"cap:callsec:{dt.datetime.now(dt.UTC):%Y%m%d}", cap)
    assert_rejected(ring(line))
    assert job_queue(services.rq).count == 0 and scheduled(services) == []  # nothing planned
    run_jobs(twilio_env)
    assert sandbox.calls == []


def test_the_cap_reached_before_the_callback_is_made_stops_it(line, sandbox, twilio_env):
    services = line.extensions["hotline"]
    assert_rejected(ring(line))
    cap = services.settings.call_minutes_daily_cap * 60
    services.redis.set(f"cap:callsec:{dt.datetime.now(dt.UTC):%Y%m%d}", cap)
    run_jobs(twilio_env)
    assert sandbox.calls == []


def test_outside_the_hours_the_callback_waits_for_the_opening(
        redis_db, redis_server, sandbox, tmp_path, twilio_env):
    today = dt.datetime.now(dt.UTC).date().isoformat()
    app = make_app(redis_server, sandbox, tmp_path, CLOSED_DAYS=today)
    services = app.extensions["hotline"]
    now = dt.datetime.now(dt.UTC)
    assert_rejected(ring(app))
    run_jobs(twilio_env)
    assert sandbox.calls == []
    (job, due), = scheduled(services)
    assert due == services.hours.next_opening(now).timestamp()
    assert_rejected(ring(app))  # a ring while it waits joins it
    assert len(scheduled(services)) == 1
    release(services, job)
    run_jobs(twilio_env)
    assert [c["to"] for c in sandbox.calls] == [MOBILE]


def test_the_sms_reply_texts_the_menu_in_the_remembered_language(
        redis_db, redis_server, sandbox, tmp_path, twilio_env):
    app = make_app(redis_server, sandbox, tmp_path, MISSED_CALL_REPLY="sms")
    services = app.extensions["hotline"]
    if not services.hours.is_open(dt.datetime.now(dt.UTC)):
        pytest.skip("the line is closed today")
    env = {**twilio_env, "HOTLINE_MISSED_CALL_REPLY": "sms"}
    sms_state.remember_language(services.redis, services.privacy.number_key(MOBILE), "fr")
    assert_rejected(ring(app))
    assert_rejected(ring(app))
    assert_rejected(ring(app, "+3225551234"))  # a landline: it cannot get an SMS
    run_jobs(env)
    assert sandbox.calls == []
    (message,) = sandbox.messages
    start = services.content.start
    assert (message["to"], message["body"]) == (MOBILE, services.sms.menu("fr", start))
    # The menu's numbers work in the reply: 1 is its first topic.
    first = next(o.goto for o in services.content.nodes[start].options if o.digit == "1")
    assert sms_replies(sms_post(app.test_client(), "1")) == [services.sms.menu("fr", first)]


def test_the_sms_reply_without_a_language_asks_for_one_and_respects_stop(
        redis_db, redis_server, sandbox, tmp_path, twilio_env):
    app = make_app(redis_server, sandbox, tmp_path, MISSED_CALL_REPLY="sms")
    services = app.extensions["hotline"]
    if not services.hours.is_open(dt.datetime.now(dt.UTC)):
        pytest.skip("the line is closed today")
    env = {**twilio_env, "HOTLINE_MISSED_CALL_REPLY": "sms"}
    assert_rejected(ring(app))
    sms_post(app.test_client(), "STOP", number="+32470123499")
    assert_rejected(ring(app, "+32470123499"))
    run_jobs(env)
    assert [(m["to"], m["body"]) for m in sandbox.messages] == [(MOBILE, services.sms.welcome())]
    # The welcome's numbers work in the reply: 2 chooses the second language.
    second = list(services.sms.languages)[1]
    assert sms_replies(sms_post(app.test_client(), "2")) == [
        services.sms.text(second, "language_set")]


def test_a_ring_on_the_paid_line_is_answered_as_ever(line, sandbox, twilio_env):
    root = ring(line, to=HOTLINE_NUMBER)
    assert root.find("Reject") is None and root.find("Gather") is not None
    run_jobs(twilio_env)
    assert sandbox.calls == []


def test_with_redis_down_a_ring_is_still_rejected(sandbox, tmp_path):
    app = create_app({
        "VAR_DIR": tmp_path / "var", "TWILIO_AUTH_TOKEN": TOKEN, "PUBLIC_BASE_URL": PUBLIC,
        "SECRET_KEY": SECRET, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
        "MISSED_CALL_NUMBERS": MISSED_LINE})
    assert_rejected(ring(app))  # free for the caller all the same; no callback can be planned


def test_status_callbacks_are_signed_and_checked(line):
    client = line.test_client()
    path = "/voice/missed/status?cb=abc123&try=0"
    assert client.post(path, data={"CallSid": "CA1", "CallStatus": "busy"}).status_code == 403
    for bad in ("/voice/missed/status?cb=abc123&try=x", "/voice/missed/status?try=0",
                "/voice/missed/status?cb=%C3%A9&try=0"):
        assert twilio_post(client, bad, {"CallStatus": "busy"}).status_code == 400
    assert twilio_post(client, path, {"CallStatus": "completed",
                                      "CallDuration": "9" * 5000}).status_code == 204


def test_no_number_in_clear_after_rings_and_callbacks(line, sandbox, twilio_env, caplog):
    caplog.set_level(logging.DEBUG)
    services = line.extensions["hotline"]
    assert_rejected(ring(line))
    assert_rejected(ring(line))
    run_jobs(twilio_env)
    sandbox.report(sandbox.calls[0]["sid"], "busy", send=via(line))
    values = b"\n".join(every_value(services.rq))
    logs = "\n".join(r.getMessage() for r in caplog.records)
    for digits in digits_of(MOBILE):
        assert digits not in values
        assert digits.decode() not in logs


def test_forget_erases_the_missed_call_limits_of_the_number(line):
    services = line.extensions["hotline"]
    assert_rejected(ring(line))
    assert services.redis.keys("mc:*")
    sms_post(line.test_client(), "FORGET")
    assert services.redis.keys("mc:*") == []
