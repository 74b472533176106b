"""The console over HTTP: logins, CSRF, who sees a number, outcomes; the bridging call placed by an
RQ job through the Twilio sandbox; the maintenance job (claim expiry, wait alerts)."""

from __future__ import annotations

import datetime as dt
import time
from urllib.parse import urlsplit

import pytest
from rq import Queue

from hotline.callbacks.hours import parse_hours
from tests.helpers import (
    AMINA_PHONE,
    HOTLINE_NUMBER,
    HTTPS,
    MOBILE,
    PASSWORD,
    PUBLIC,
    REFERER,
    csrf,
    log_in,
    post,
    run_jobs,
    twilio_post,
    twiml,
    waiting_ticket,
)


def taken_by_amina(app, services):
    """A waiting ticket, taken by amina in her console: (her client, the ticket's page path)."""
    ref = waiting_ticket(app, services)
    client = app.test_client()
    log_in(client, "amina")
    post(client, "/console/take")
    return client, f"/console/ticket/{ref}"


@pytest.mark.parametrize("path", ["/console/", "/console/ticket/123456",
                                  "/console/ticket/123456/voice"])
def test_every_page_needs_a_login(client, path):
    response = client.get(path, **HTTPS)
    assert response.status_code == 302 and "/console/login" in response.headers["Location"]


def test_forms_without_csrf_token_are_refused(client, mediators):
    response = client.post("/console/login", data={"login": "amina", "password": PASSWORD},
                           **HTTPS, headers=REFERER)
    assert response.status_code == 400


def test_wrong_password_and_disabled_account(app, services, mediators):
    client = app.test_client()
    token = csrf(client, "/console/login")
    response = client.post("/console/login", data={"login": "amina", "password": "nope",
                                                   "csrf_token": token},
                           **HTTPS, headers=REFERER)
    assert response.status_code == 401
    log_in(client, "amina")
    assert client.get("/console/", **HTTPS).status_code == 200
    services.mediators.disable("amina")
    assert client.get("/console/", **HTTPS).status_code == 302


def test_session_cookie_is_secure_and_http_only(app, mediators):
    client = app.test_client()
    token = csrf(client, "/console/login")
    response = client.post("/console/login", data={"login": "amina", "password": PASSWORD,
                                                   "csrf_token": token},
                           **HTTPS, headers=REFERER)
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_take_next_shows_the_number_only_to_the_claimant(app, services, mediators):
    ref = waiting_ticket(app, services)
    amina, bram = app.test_client(), app.test_client()
    log_in(amina, "amina")
    log_in(bram, "bram")
    page = amina.get("/console/", **HTTPS).get_data(as_text=True)
    assert "Français (fr)" in page
    response = post(amina, "/console/take")
    assert response.headers["Location"].endswith(f"/console/ticket/{ref}")
    mine = amina.get(f"/console/ticket/{ref}", **HTTPS).get_data(as_text=True)
    assert "+32470123456" in mine and "Call: ring my phone" in mine
    theirs = bram.get(f"/console/ticket/{ref}", **HTTPS).get_data(
        as_text=True)
    assert "470123456" not in theirs and "Call: ring my phone" not in theirs
    assert post(bram, f"/console/ticket/{ref}/call", page=f"/console/ticket/{ref}").status_code \
        == 403
    response = post(bram, "/console/take")
    followed = bram.get(response.headers["Location"], **HTTPS)
    assert "No ticket is waiting" in followed.get_data(as_text=True)


def test_outcome_and_note(app, services, mediators):
    client, page = taken_by_amina(app, services)
    ref = page.rsplit("/", 1)[1]
    post(client, f"{page}/note", {"text": "left a voicemail"}, page=page)
    assert post(client, f"{page}/outcome", {"outcome": "no_answer"}, page=page).status_code == 302
    ticket = services.callbacks.get(ref)
    assert ticket.status == "waiting" and ticket.attempts == 1
    events = [(e["event"], e.get("text")) for e in services.callbacks.history(ref)]
    assert ("note", "left a voicemail") in events and ("no_answer", None) in events
    assert post(client, f"{page}/outcome", {"outcome": "bogus"}, page=page).status_code == 400


def test_call_button_rings_the_mediator_then_dials_the_caller(app, services, mediators, sandbox,
                                                              twilio_env):
    client, page = taken_by_amina(app, services)
    ref = page.rsplit("/", 1)[1]
    post(client, f"{page}/call", {"nonce": "abc"}, page=page)
    post(client, f"{page}/call", {"nonce": "abc"}, page=page)  # a double click: one call
    run_jobs(twilio_env)
    assert len(sandbox.calls) == 1
    placed = sandbox.calls[0]
    assert placed["to"] == AMINA_PHONE and placed["from"] == HOTLINE_NUMBER
    url = sandbox.field(placed["sid"], "Url")
    assert f"/voice/bridge?ref={ref}&m=amina" in url
    # Twilio fetches the TwiML when Amina answers.
    assert url.startswith(PUBLIC + "/voice/bridge")
    parts = urlsplit(url)
    path = f"{parts.path}?{parts.query}"
    response = twilio_post(app.test_client(), path, {"CallSid": placed["sid"]})
    dial = twiml(response).find("Dial")
    assert dial.get("callerId") == HOTLINE_NUMBER
    assert dial.find("Number").text == MOBILE
    # Status callbacks, retried: one event each.
    for _ in range(2):
        twilio_post(app.test_client(), f"/voice/bridge/dialed?ref={ref}",
                    {"CallSid": placed["sid"], "DialCallStatus": "completed"})
    events = [e["event"] for e in services.callbacks.history(ref)]
    assert events.count("call to the caller: completed") == 1
    # Someone else's bridge URL is refused.
    response = twilio_post(app.test_client(), f"/voice/bridge?ref={ref}&m=bram",
                           {"CallSid": placed["sid"]})
    assert twiml(response).find("Dial") is None


def open_all_day() -> dict[str, str]:
    """Opening hours open now whatever the hour the suite runs: all day, in a zone where it is
    about noon (in UTC, "00:00-23:59" is closed from 23:59 on). Skips on a Belgian holiday."""
    offset = (12 - dt.datetime.now(dt.UTC).hour + 12) % 24 - 12
    hours = {"HOTLINE_OPENING_HOURS": "mon-sun 00:00-23:59",
             "HOTLINE_TIMEZONE": f"Etc/GMT{-offset:+d}" if offset else "UTC"}
    if not parse_hours(*hours.values()).is_open(dt.datetime.now(dt.UTC)):
        pytest.skip("a Belgian public holiday there: the callback service is closed")
    return hours


def test_maintenance_job_returns_expired_claims_and_alerts(app, services, mediators, sandbox,
                                                          twilio_env):
    ref = waiting_ticket(app, services)
    services.callbacks.take_next("amina", ["fr"])
    services.redis.zadd("cb:claims", {ref: time.time() - 1})      # the claim is overdue
    other = services.callbacks.request("k2", services.privacy.encrypt("+32470111222"), "ar",
                                       "amu", now=time.time() - 7200)[0]
    Queue("hotline", connection=services.rq).enqueue("workers.jobs.maintenance")
    run_jobs({**twilio_env, **open_all_day()})
    assert services.callbacks.get(ref).status == "waiting"
    alerts = [m for m in sandbox.messages if m["to"] == AMINA_PHONE]
    assert len(alerts) == 1 and "waiting in ar" in alerts[0]["body"]
    assert services.callbacks.waiting("ar") == [other]
    assert float(services.redis.get("maint:last")) > time.time() - 60  # for /healthz
