"""Redis round trips per webhook, counted on the real server's connections (issue 15): a voice
step or an SMS must not drift back to one command per fact it needs.

A voice step's counts are deferred: they leave in the background, many requests' in one round
trip (hotline.state.deferred), so a step makes none; an incoming call reads the remembered
language in one, after this process's deferred writes; a language choice keeps it in one. An
SMS reads what it needs in one round trip; its writes are deferred."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from flask import request
from flask.testing import FlaskClient

from tests.helpers import (
    MOBILE,
    count_round_trips,
    sms_post,
    sms_replies,
    twilio_post,
    twiml,
)


@pytest.fixture
def client(app):
    """A plain test client: what a request sends, its deferred writes left queued."""
    return FlaskClient(app, app.response_class, use_cookies=True)


@pytest.fixture
def sms(services):
    return services.sms


@pytest.fixture
def trips(services):
    """The round trips of the app's two clients (its own keys, and RQ's), counted from the
    first request on; `trips.clear()` after a warm-up request (connections, script loading)."""
    services.events.deferred.interval = 3600  # deferred writes leave only when flushed here
    return count_round_trips(services.redis, services.rq)


def test_sms_keyword_is_one_round_trip_its_writes_deferred(client, sms, trips, services):
    sms_replies(sms_post(client, "AIDE"))  # warm: connection, scripts cached by the server
    services.deferred.flush()
    trips.clear()
    assert sms_replies(sms_post(client, "CPAS", number="+32470000001")) == [
        sms.menu("fr", "cpas")]  # first contact: language learnt from the word
    assert len(trips) == 1, trips
    trips.clear()
    assert sms_replies(sms_post(client, "1", number="+32470000001"))  # a menu number
    assert len(trips) == 1, trips  # the menu kept by the one before (sent with this read)
    trips.clear()
    assert sms_replies(sms_post(client, "HELP", number="+32470000001"))
    assert len(trips) == 1, trips
    trips.clear()
    assert sms_replies(sms_post(client, "STOP", number="+32470000001"))
    assert len(trips) == 2, trips  # consent is written before the answer leaves
    n = services.privacy.number_key("+32470000001")
    assert services.redis.get(f"sms:optout:{n}") == "1"


def test_a_retried_sms_is_one_round_trip(client, trips):
    sms_replies(sms_post(client, "AIDE"))
    first = sms_post(client, "CPAS", sid="SM" + "c" * 32)
    trips.clear()
    again = sms_post(client, "CPAS", sid="SM" + "c" * 32)
    assert again.get_data() == first.get_data()
    assert len(trips) == 1, trips


def test_voice_incoming_call_is_one_round_trip_with_its_events(client, trips):
    twiml(twilio_post(client, "/voice", {"From": MOBILE}))
    trips.clear()
    twiml(twilio_post(client, "/voice", {"From": MOBILE}))
    assert len(trips) == 1, trips
    trips.clear()
    twiml(twilio_post(client, "/voice", {"From": "anonymous"}))  # nothing to look up
    assert len(trips) == 0, trips  # its events are deferred


def test_voice_menu_steps_and_items_make_no_round_trip_their_counts_follow(client, trips,
                                                                          services):
    twiml(twilio_post(client, "/voice", {"From": MOBILE}))
    trips.clear()
    twiml(twilio_post(client, "/voice/step?node=main&lang=en&retry=0", {"Digits": "1"}))
    twiml(twilio_post(client, "/voice/step?node=money&lang=en&retry=0", {"Digits": "2"}))
    twiml(twilio_post(client, "/voice/step?node=main&lang=en&retry=0"))  # silence
    assert len(trips) == 0, trips  # nothing while the caller waits
    services.events.deferred.flush()  # what the background thread does every 0.05 s
    assert len(trips) == 1, trips  # one for all three
    counted = {(c.name, c.lang, c.what): c.count for c in services.events.read(
        dt.date.today() - dt.timedelta(days=1), dt.date.today() + dt.timedelta(days=1))}
    heard = {what: n for (name, lang, what), n in counted.items() if name == "heard"}
    assert heard["cpas"] == 1 and len(heard) == 2, counted  # the menu, the item (not a replay)


def test_choosing_a_language_is_one_round_trip_with_its_events(client, trips, services):
    twiml(twilio_post(client, "/voice", {"From": MOBILE}))
    trips.clear()
    twiml(twilio_post(client, "/voice/step?node=languages&retry=0",
                      {"Digits": "2", "From": MOBILE}))
    assert len(trips) == 1, trips  # kept now: never deferred past a FORGET
    trips.clear()
    again = twiml(twilio_post(client, "/voice", {"From": MOBILE}))  # the choice was kept
    assert len(trips) == 1, trips
    assert "lang=nl" in again.find("Gather").get("action")  # the main menu, in Dutch
    counted = {(c.name, c.lang, c.what): c.count for c in services.events.read(
        dt.date.today() - dt.timedelta(days=1), dt.date.today() + dt.timedelta(days=1))}
    assert counted[("heard", "nl", "main")] == 2  # chosen, then recalled in the same trip
    assert counted[("call", "", "")] == 2


def test_a_retried_silent_sms_stays_silent_in_one_round_trip(client, trips):
    assert sms_replies(sms_post(client, "STOP", number="+32470000002"))
    first = sms_post(client, "AIDE", number="+32470000002", sid="SM" + "d" * 32)
    assert sms_replies(first) == []  # opted out: nothing sent
    trips.clear()
    again = sms_post(client, "AIDE", number="+32470000002", sid="SM" + "d" * 32)
    assert sms_replies(again) == [] and again.get_data() == first.get_data()
    assert len(trips) == 1, trips


def test_webhooks_open_no_cookie_session_the_console_does(services):
    """Twilio sends no cookie: a webhook opens no session (a good part of its time around the
    view was Flask building the cookie's serializer); the console still gets its session."""
    from hotline.app import create_app

    app = create_app(settings=services.settings)
    with app.test_request_context("/voice/step?node=main", method="POST"):
        assert app.session_interface.open_session(app, request) is None
    with app.test_request_context("/sms", method="POST"):
        assert app.session_interface.open_session(app, request) is None
    with app.test_request_context("/console/login"):
        assert app.session_interface.open_session(app, request) is not None
    with app.test_request_context("/voicemail-not-a-webhook"):
        assert app.session_interface.open_session(app, request) is not None


def test_taking_a_ticket_is_one_round_trip_its_counts_follow(trips, services):
    """The console's take: the claim and its counts (taken, and how long the ticket waited)
    in one round trip (issue 15, item 3: the queue's p99)."""
    queue = services.callbacks
    for number in ("+32470000003", "+32470000004"):
        queue.request(f"k-{number}", services.privacy.encrypt(number), "fr", "cpas")
    assert queue.take_next("ines", ["fr"]) is not None  # warm: the scripts cached
    services.deferred.flush()
    trips.clear()
    ticket = queue.take_next("ines", ["fr", "nl"])
    assert ticket is not None and len(trips) == 1, trips
    days = (dt.date.today() - dt.timedelta(days=1), dt.date.today() + dt.timedelta(days=1))
    counted = {(c.name, c.lang): c.count for c in services.events.read(*days)}
    assert counted[("cb_taken", "fr")] == 2
    assert [lang for _, lang, _ in services.events.waits(*days)] == ["fr", "fr"]
    counts = services.events.script_counts(now=time.time())
    for key in counts[:2]:  # both kept for their time, then gone
        assert 0 < services.redis.ttl(key) <= int(counts[2]), key
