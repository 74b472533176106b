"""Privacy: after calls, SMS, callbacks, a mediator's work and real workers, no phone number is in
clear anywhere in Redis or the logs; FORGET erases a number's traces; voice messages are deleted
at Twilio."""

from __future__ import annotations

import contextlib
import logging
import pickle
import time
import zlib

import pytest
import redis
from rq import Queue

from hotline.engine.callback import callable_number
from hotline.state.deferred import DeferredWrites
from hotline.state.privacy import Privacy, textable_number
from hotline.state.sms import FORGOT_SECONDS, forgot_key
from tests.helpers import (
    HTTPS,
    MOBILE,
    log_in,
    next_url,
    post,
    post_step,
    run_jobs,
    sms_post,
    sms_replies,
    twilio_post,
)

NUMBERS = [MOBILE, "+32470123499", "+32470111222", "+32470999888"]


def digits_of(number: str) -> list[bytes]:
    """The ways a number could appear: international and national digits."""
    national = "0" + number[3:]
    return [number[1:].encode(), national.encode(), number[3:].encode()]


def every_value(r: redis.Redis) -> list[bytes]:
    """Every key and value in Redis, RQ's compressed job data unpacked."""
    out = []
    for key in r.scan_iter("*"):
        out.append(key)
        kind = r.type(key)
        if kind == b"string":
            values = [r.get(key)]
        elif kind == b"hash":
            values = list(r.hgetall(key).values()) + list(r.hkeys(key))
        elif kind == b"list":
            values = r.lrange(key, 0, -1)
        elif kind == b"set":
            values = list(r.smembers(key))
        elif kind == b"zset":
            values = r.zrange(key, 0, -1)
        else:
            values = []
        for value in values:
            out.append(value or b"")
            try:
                unpacked = zlib.decompress(value)
            except (zlib.error, TypeError):
                continue
            out.append(unpacked)
            with contextlib.suppress(Exception):  # not every compressed value is a pickle
                out.append(repr(pickle.loads(unpacked)).encode())
    return out


def test_no_number_in_clear_after_an_end_to_end_run(app, services, mediators, sandbox, twilio_env,
                                                   caplog):
    caplog.set_level(logging.DEBUG)
    client = app.test_client()
    # A caller: information, an item by SMS, a callback with a typed number, a voice message.
    caller = {"From": MOBILE}
    twilio_post(client, "/voice", caller)
    twilio_post(client, "/voice/step?node=cpas_what&lang=fr&retry=0", {"Digits": "2", **caller})
    url = "/voice/step?node=main&lang=fr&retry=0"
    for digits in ("0", "2", "0470123499", "1", "1"):
        url = next_url(post_step(client, url, digits))
    ref = url.split("ref=")[1].split("&")[0]
    twilio_post(client, f"/voice/recording?ref={ref}", {
        "RecordingSid": "RE" + "2" * 32, "RecordingStatus": "completed",
        "RecordingUrl": f"{sandbox.base_url}/2010-04-01/Accounts/AC1/Recordings/RE{'2' * 32}"})
    # A texter: language, a topic, a callback, STOP and START.
    for body in ("TAAL 2", "1", "TERUGBELLEN graag", "STOP", "START"):
        sms_post(client, body, number="+32470111222")
    # A mediator works the queue by console and by SMS.
    console = app.test_client()
    log_in(console, "amina")
    post(console, "/console/take")
    console.get(f"/console/ticket/{ref}", base_url="https://localhost")
    sms_post(client, "VOLGENDE", number="+32470999777")  # bram (nl) by SMS
    run_jobs(twilio_env)
    assert len(sandbox.messages) == 2  # the item by SMS, the callback confirmation
    values = every_value(services.rq)  # the raw bytes of every key, RQ's and ours
    values += [body.encode() for body in services.rendered.values()]  # kept TwiML documents
    logs = caplog.text.encode()
    for number in NUMBERS:
        for form in digits_of(number):
            where = [v[:300] for v in values if form in v]
            assert not where, f"{number} in clear in Redis: {where}"
            assert form not in logs, f"{number} in clear in the logs"


def test_forget_erases_everything_about_the_number(app, services, sandbox, twilio_env):
    client = app.test_client()
    sms_post(client, "LANGUE fr")
    sms_post(client, "RAPPEL")
    ref = services.callbacks.waiting("fr")[0]
    services.callbacks.attach_voice(ref, sandbox.add_recording("RE" + "3" * 32))
    n = services.privacy.number_key(MOBILE)
    assert services.redis.keys(f"*{n}*")
    reply = sms_replies(sms_post(client, "OUBLIER"))
    assert reply == [services.sms.text("fr", "forget_confirm")]
    # nothing but the short-lived guard against writes deferred from before the erasure
    assert services.redis.keys(f"*{n}*") == [forgot_key(n)]
    assert 0 < services.redis.ttl(forgot_key(n)) <= FORGOT_SECONDS <= 10
    assert services.callbacks.get(ref) is None and services.callbacks.waiting("fr") == []
    assert services.callbacks.history(ref) == []
    run_jobs(twilio_env)
    assert sandbox.deleted_recordings == ["RE" + "3" * 32]
    # A new first contact: no language remembered.
    assert sms_replies(sms_post(client, "1")) == [services.sms.welcome()]


def test_forget_works_even_after_stop(app, services):
    client = app.test_client()
    sms_post(client, "STOP")
    assert sms_replies(sms_post(client, "FORGET")) == [services.sms.text("en", "forget_confirm")]
    assert sms_replies(sms_post(client, "HELP")) == [services.sms.menu("en", "main")]


def test_voice_messages_of_closed_tickets_are_deleted_after_retention(services, sandbox,
                                                                       twilio_env):
    ref, _ = services.callbacks.request("k1", "enc", "fr", "cpas", now=1000)
    services.callbacks.attach_voice(ref, sandbox.add_recording("RE" + "4" * 32))
    services.callbacks.close(ref, "cancelled", now=1000)
    Queue("hotline", connection=services.rq).enqueue("workers.jobs.maintenance")
    run_jobs(twilio_env)
    assert sandbox.deleted_recordings == ["RE" + "4" * 32]  # 30 days after 1970: long due


@pytest.mark.parametrize("times", [6])
def test_sms_callback_requests_are_limited_per_day(app, services, times):
    client = app.test_client()
    sms_post(client, "AIDE")
    for _ in range(times - 1):
        sms_post(client, "RAPPEL")
        sms_post(client, "ANNULER")
    assert sms_replies(sms_post(client, "RAPPEL")) == [services.sms.text("fr", "cb_failed")]


@pytest.mark.parametrize("number", ["+33612345678", "+3290012345"])
def test_no_callback_to_foreign_or_premium_numbers_by_sms(app, services, number):
    reply = sms_replies(sms_post(app.test_client(), "CALL", number=number))
    assert reply == []  # not even an answer: an SMS to such a number is not sent (issue 14.6)
    assert services.redis.keys("cb:ticket:*") == []


NOTE = "RAPPEL appelez ma voisine Fatima au 0470 55 66 77"


def test_the_callers_note_is_sealed_and_shown_to_the_claimant_only(app, services, mediators):
    """(issue 14, item 11) The caller's free text may name or number someone: encrypted at rest,
    shown only to the mediator who took the ticket."""
    client = app.test_client()
    sms_post(client, "AIDE")
    sms_post(client, NOTE)
    (ref,) = services.callbacks.waiting("fr")
    for value in every_value(services.rq):
        assert b"Fatima" not in value and b"55 66 77" not in value, value[:300]
    amina, bram = app.test_client(), app.test_client()
    log_in(amina, "amina")
    log_in(bram, "bram")  # speaks French too: sees the ticket, not the caller's words
    assert "Fatima" not in bram.get(f"/console/ticket/{ref}", **HTTPS).get_data(as_text=True)
    post(amina, "/console/take")
    assert "Fatima au 0470 55 66 77" in amina.get(f"/console/ticket/{ref}", **HTTPS).get_data(
        as_text=True)
    assert "Fatima" not in bram.get(f"/console/ticket/{ref}", **HTTPS).get_data(as_text=True)


def aof_bytes(server) -> bytes:
    """Everything Redis persisted on disk (its append-only file, in one part or several)."""
    files = [p for p in server.data_dir.rglob("*") if p.is_file() and p.name != "redis.log"]
    return b"".join(p.read_bytes() for p in files)


def test_forget_rewrites_the_append_only_file(app, services, redis_server, twilio_env):
    """(issue 14, item 11) After FORGET the erased ticket and note are not on disk either."""
    client = app.test_client()
    sms_post(client, "AIDE")
    sms_post(client, NOTE)
    (ref,) = services.callbacks.waiting("fr")
    (sealed,) = [e["sealed"] for e in services.callbacks.history(ref) if e.get("sealed")]
    services.redis.execute_command("CONFIG", "SET", "appendfsync", "always")
    try:
        sms_post(client, "OUBLIER")
        run_jobs(twilio_env)
        deadline = time.monotonic() + 30
        while int(services.redis.info("persistence")["aof_rewrite_in_progress"]):
            assert time.monotonic() < deadline, "the rewrite did not end"
            time.sleep(0.1)
        on_disk = aof_bytes(redis_server)
    finally:
        services.redis.execute_command("CONFIG", "SET", "appendfsync", "everysec")
    assert f"cb:ticket:{ref}".encode() not in on_disk
    assert sealed.encode() not in on_disk


def test_a_write_deferred_before_a_forget_lands_after_it_and_keeps_nothing(app, services):
    """Another web process answered the number's SMS a moment before FORGET reached this one:
    its deferred writes (language, menu, opt-out, rate) leave after the erasure, and keep
    nothing about the number."""
    client = app.test_client()
    sms_post(client, "LANGUE fr")
    other = DeferredWrites(services.redis, interval=3600)  # the other process's queue
    services.deferred, mine = other, services.deferred
    try:
        sms_replies(sms_post(app.test_client(), "CPAS"))  # its writes wait in `other`
    finally:
        services.deferred = mine
    assert sms_replies(sms_post(client, "OUBLIER")) == [services.sms.text("fr", "forget_confirm")]
    other.flush()  # now they land
    n = services.privacy.number_key(MOBILE)
    assert services.redis.keys(f"*{n}*") == [forgot_key(n)]


@pytest.mark.parametrize("raw", ["+32470123456", "+32 470 12 34 56", "+32 (0)470 12 34 56",
                                 "+320470123456", "+33612345678", "+31 6 12345678",
                                 "+3225550001", "+447700900123", "+32470"])
def test_a_number_parsed_once_keys_as_its_raw_form(raw):
    """An SMS and an incoming call parse the number once (issue 15): the E.164 form that
    `textable_number` and `callable_number` give keys exactly as the raw number does, or a
    texter's state and chosen language would be lost between two messages."""
    privacy, countries = Privacy(b"k" * 32), frozenset({"BE", "FR", "NL"})
    forms = [f for f in (textable_number(raw, countries), callable_number(raw, countries)) if f]
    for e164 in forms:
        assert privacy.number_key(e164, e164=True) == privacy.number_key(raw), e164
    assert bool(forms) == (raw not in ("+447700900123", "+32470"))  # UK; too short
