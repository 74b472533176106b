"""Delivery status of the SMS the line sends (issue 14, item 20): the Twilio sandbox calls each
message's StatusCallback with a signed request, as Twilio does; an undelivered confirmation or
item shows on its ticket, is counted per day, and is never sent again blindly."""

from __future__ import annotations

import datetime as dt
import shutil
import threading
import xml.etree.ElementTree as ET
from urllib.parse import parse_qs, urlsplit

import pytest
from werkzeug.serving import make_server

from tests.helpers import (
    MOBILE,
    PASSWORD,
    PUBLIC,
    log_in,
    next_url,
    post,
    post_step,
    run_jobs,
    sign,
    sms_post,
)


@pytest.fixture
def callbacks_into(app, sandbox):
    """The sandbox's status callbacks reach this app (Twilio would call PUBLIC over HTTPS)."""

    def transport(url: str, fields: dict[str, str], headers: dict[str, str]) -> int:
        assert url.startswith(PUBLIC + "/sms/status?")
        parts = urlsplit(url)
        return app.test_client().post(f"{parts.path}?{parts.query}", data=fields,
                                      headers=headers).status_code

    sandbox.transport = transport
    return sandbox


def _callback_request(client) -> str:
    """A caller asks for a callback by voice (the line texts them its reference); the ref."""
    root = post_step(client, "/voice/step?node=amu&lang=en&retry=0", "0")
    root = post_step(client, next_url(root), "1")  # this number
    root = post_step(client, next_url(root), "4")  # the topic
    return parse_qs(urlsplit(root.find("Record").get("action")).query)["ref"][0]


def _undelivered_today(services) -> dict[str, str]:
    return services.redis.hgetall(f"sms:undelivered:{dt.datetime.now(dt.UTC):%Y%m%d}")


@pytest.mark.parametrize(("code", "reason"), [
    (30003, "unreachable"), (30005, "unknown number"), (30006, "landline"), (30007, "filtered"),
])
def test_an_undelivered_confirmation_shows_on_its_ticket_and_is_counted_once(
        app, services, callbacks_into, twilio_env, code, reason):
    sandbox = callbacks_into
    sandbox.deliver_as(MOBILE, "undelivered", code)
    ref = _callback_request(app.test_client())
    run_jobs(twilio_env)
    sandbox.settle()
    [message] = sandbox.messages
    assert [f["MessageStatus"] for _, f in sandbox.status_callbacks] == ["sent", "undelivered"]
    events = [e["event"] for e in services.callbacks.history(ref)]
    assert any(f"confirmation SMS not delivered: {reason} ({code})" in e for e in events), events
    assert _undelivered_today(services) == {str(code): "1"}
    # Twilio may send the same callback again: counted once. And nothing is re-sent.
    url, fields = sandbox.status_callbacks[-1]
    parts = urlsplit(url)
    again = app.test_client().post(f"{parts.path}?{parts.query}", data=fields,
                                   headers={"X-Twilio-Signature": sign(url, fields)})
    assert again.status_code == 204
    run_jobs(twilio_env)
    assert _undelivered_today(services) == {str(code): "1"}
    assert sandbox.messages == [message]
    # The reports count it once, by reason, in the ticket's language, with no number in it.
    counts = [c for c in services.events.read(dt.date.today() - dt.timedelta(days=1),
                                              dt.date.today() + dt.timedelta(days=1))
              if c.name == "sms_undelivered"]
    assert [(c.lang, c.what, c.count) for c in counts] == [("en", reason.replace(" ", "_"), 1)]
    # The mediator sees it on the ticket page.
    services.mediators.add("eve", "Eve", ["en"], "+32470999666", PASSWORD)
    console = app.test_client()
    log_in(console, "eve")
    post(console, "/console/take")
    page = console.get(f"/console/ticket/{ref}", base_url="https://localhost")
    assert f"confirmation SMS not delivered: {reason} ({code})" in page.get_data(as_text=True)


def test_a_delivered_sms_leaves_no_trace(app, services, callbacks_into, twilio_env):
    ref = _callback_request(app.test_client())
    run_jobs(twilio_env)
    callbacks_into.settle()
    assert [f["MessageStatus"] for _, f in callbacks_into.status_callbacks] == [
        "sent", "delivered"]
    assert not any("not delivered" in e["event"] for e in services.callbacks.history(ref))
    assert _undelivered_today(services) == {}


def test_an_undelivered_item_sms_is_counted_and_shown_on_the_callers_ticket(
        app, services, callbacks_into, twilio_env):
    client = app.test_client()
    ref = _callback_request(client)
    run_jobs(twilio_env)
    callbacks_into.settle()
    callbacks_into.deliver_as(MOBILE, "failed", 30005)
    root = post_step(client, "/voice/step?node=cpas_what&lang=en&retry=0", "2")  # item by SMS
    assert root is not None
    run_jobs(twilio_env)
    callbacks_into.settle()
    assert len(callbacks_into.messages) == 2
    assert _undelivered_today(services) == {"30005": "1"}
    events = [e["event"] for e in services.callbacks.history(ref)]
    assert any("item SMS not delivered: unknown number (30005)" in e for e in events), events


def test_a_status_callback_must_be_signed(client, services):
    fields = {"MessageSid": "SM" + "1" * 32, "MessageStatus": "undelivered",
              "ErrorCode": "30003", "To": MOBILE}
    path = "/sms/status?key=cb-created:123456"
    assert client.post(path, data=fields).status_code == 403
    forged = sign(PUBLIC + "/sms/status?key=cb-created:654321", fields)
    assert client.post(path, data=fields,
                       headers={"X-Twilio-Signature": forged}).status_code == 403
    assert _undelivered_today(services) == {}
    signed = {"X-Twilio-Signature": sign(PUBLIC + path, {"MessageStatus": "sent"})}
    assert client.post(path, data={"MessageStatus": "sent"}, headers=signed).status_code == 400


def test_an_answer_by_sms_asks_for_its_delivery_status_too(client, services):
    """The <Message> of an SMS answer names the status callback; an undelivered one counts."""
    root = ET.fromstring(sms_post(client, "HELP").get_data())
    [message] = root.iter("Message")
    url = message.get("action")
    assert url == PUBLIC + "/sms/status?key=reply" and message.get("method") == "POST"
    fields = {"MessageSid": "SM" + "2" * 32, "MessageStatus": "undelivered", "ErrorCode": "30007",
              "To": MOBILE}
    response = client.post("/sms/status?key=reply", data=fields,
                           headers={"X-Twilio-Signature": sign(url, fields)})
    assert response.status_code == 204
    assert _undelivered_today(services) == {"30007": "1"}


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="no chromium: `apt-get install chromium`")
def test_the_mediator_sees_the_undelivered_sms_on_a_phone_screen(
        app, services, callbacks_into, twilio_env):
    """In headless chromium at 360 px: the ticket page's history says the SMS did not arrive."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    callbacks_into.deliver_as(MOBILE, "undelivered", 30006)
    ref = _callback_request(app.test_client())
    run_jobs(twilio_env)
    callbacks_into.settle()
    services.mediators.add("eve", "Eve", ["en"], "+32470999666", PASSWORD)
    services.settings = services.settings.replace(public_base_url=None)
    server = make_server("localhost", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    served = f"http://localhost:{server.server_port}"
    try:
        with playwright_api.sync_playwright() as pw:
            chrome = pw.chromium.launch(executable_path=CHROMIUM, args=[
                "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"])
            page = chrome.new_page(viewport={"width": 360, "height": 740})
            page.goto(f"{served}/console/login")
            page.fill("input[name=login]", "eve")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.click("text=Take next ticket")
            page.wait_for_selector(f"text=Ticket {ref}")
            line = page.locator(".history li", has_text="confirmation SMS not delivered")
            assert line.inner_text().endswith("SMS not delivered: landline (30006) · twilio")
            line.scroll_into_view_if_needed()
            assert line.is_visible()
            box = line.bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 360
            chrome.close()
    finally:
        server.shutdown()
