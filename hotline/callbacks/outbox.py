"""Outgoing SMS and calls: queued as RQ jobs, made exactly once, within daily caps, SMS never to an
opted-out number.

Webhooks call `queue_sms` / `queue_call`; the jobs (`workers.jobs`) call `deliver` / `place`.
The jobs' arguments hold the number encrypted, never in clear (RQ keeps them in Redis), and the
errors they record never carry Twilio's message (which may quote the number).

Exactly once, even when a worker dies mid-send: before sending, a job claims `out:<kind>:<key>`
with "sending:<time>"; after, it stores the SID there. A retry that finds a SID does nothing; one
that finds a fresh claim waits (raises InFlight, retried later); one that finds a stale claim asks
Twilio whether the message or call exists since the claim, and sends only if it does not.

Delivery: each SMS names a status callback (`/sms/status?key=<key>`, absolute: PUBLIC_BASE_URL or
the host of the request that queued it). An undelivered or failed one (30003 unreachable, 30005
unknown number, 30006 landline, 30007 filtered…) goes into its ticket's history, for the mediator,
and is counted per day; it is never sent again by itself: the number cannot take our SMS.

Keys (7 days): `out:sms:<key>`, `out:call:<key>`, `out:undelivered:<Message SID>` (that message's
failure already recorded); per day: `cap:sms:<date>` (messages sent), `cap:callsec:<date>` (call
seconds, from status callbacks), `cap:alerted:<kind>:<date>`; `sms:undelivered:<date>`, a hash of
Twilio error code -> messages undelivered that day (kept 90 days, for reports).
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlencode

import requests
from flask import has_request_context, request
from rq import Retry
from twilio.base.exceptions import TwilioRestException

from hotline.services import QUEUE, Services
from hotline.state import ops
from hotline.state import sms as sms_state
from hotline.state.client import TextRedis
from hotline.state.events import events
from hotline.state.privacy import redact
from hotline.twilio.rest import find_call, find_message, place_call, send_message
from hotline.twilio.signatures import site_url

log = logging.getLogger(__name__)
T = TypeVar("T")
__all__ = ["QUEUE", "queue_call", "queue_sms"]
KEEP_SECONDS = 7 * 24 * 3600


class DeliveryError(Exception):
    """Twilio refused or could not be reached; the job is retried, then listed as failed.
    `code`: Twilio's error code (or "network", "timeout") when Twilio's API failed."""

    def __init__(self, message: str, code: str = ""):
        super().__init__(message)
        self.code = code


class InFlight(DeliveryError):
    """Another attempt holds the claim and may still be sending."""


class CapReached(DeliveryError):
    """Today's cap on SMS or call minutes is used up: nothing more is sent today."""


def retry_policy(services: Services) -> Retry | None:
    """Exponential backoff with ±20 % jitter: base, 2×base, 4×base… (HOTLINE_RETRY_* settings);
    None when retries are off."""
    base, count = services.settings.retry_base_seconds, services.settings.retry_max
    if count < 1:
        return None
    return Retry(max=count, interval=[round(base * 2 ** i * random.uniform(0.8, 1.2))
                                      for i in range(count)])


def queue_sms(services: Services, to: str, body: str, key: str) -> None:
    """Enqueue one SMS to `to`, identified by `key` (the same key is never sent twice)."""
    from workers import jobs  # here: workers.jobs imports this module

    services.enqueue(
        jobs.send_sms, services.privacy.encrypt(to), body, key, True,
        status_callback_url(services, key),
        retry=retry_policy(services), result_ttl=3600, failure_ttl=KEEP_SECONDS,
        description=f"sms {key}",
    )


def status_callback_url(services: Services, key: str) -> str | None:
    """Where Twilio reports the delivery of the SMS `key`: PUBLIC_BASE_URL, else the host of the
    request being answered; None outside a request without PUBLIC_BASE_URL (Twilio needs an
    absolute URL)."""
    base = services.settings.public_base_url
    if not base and has_request_context():
        base = site_url(request, None)
    return f"{base.rstrip('/')}/sms/status?{urlencode({'key': key})}" if base else None


def queue_call(services: Services, to: str, url: str, status_callback: str, key: str) -> None:
    """Enqueue one outgoing call to `to` whose TwiML is at `url`; `key` makes it happen once."""
    from workers import jobs  # here: workers.jobs imports this module

    services.enqueue(
        jobs.place_call, services.privacy.encrypt(to), url, status_callback, key,
        retry=retry_policy(services), result_ttl=3600, failure_ttl=KEEP_SECONDS,
        description=f"call {key}",
    )


def deliver(services: Services, to_token: str, body: str, key: str,
            capped: bool = True, status_callback: str | None = None) -> str | None:
    """Send the SMS unless opted out, already sent or over today's cap; returns its SID or None.
    `capped` False is for the one alert that tells admins the cap is reached; `status_callback`
    is where Twilio reports its delivery."""
    to = services.privacy.decrypt(to_token)
    if sms_state.is_opted_out(services.redis, services.privacy.number_key(to)):
        log.info("sms %s not sent: %s has opted out", key, redact(to))
        return None
    sender = services.settings.twilio_phone_number

    def send() -> str:
        if capped:
            _count_against_cap(services, "sms", 1, services.settings.sms_daily_cap)
        return send_message(services.twilio, sender, to, body, status_callback)

    sid = _once(services, f"sms:{key}", send,
                lambda since: find_message(services.twilio, sender, to, body, since))
    if sid:
        log.info("sms %s sent to %s as %s", key, redact(to), sid)
    return sid


def place(services: Services, to_token: str, url: str, status_callback: str,
          key: str) -> str | None:
    """Place the call unless already placed or today's call minutes are used up."""
    to = services.privacy.decrypt(to_token)
    caller_id = services.settings.twilio_phone_number

    def send() -> str:
        _count_against_cap(services, "callsec", 0, services.settings.call_minutes_daily_cap * 60)
        return place_call(services.twilio, caller_id, to, url, status_callback)

    sid = _once(services, f"call:{key}", send,
                lambda since: find_call(services.twilio, caller_id, to, since))
    if sid:
        log.info("call %s placed to %s as %s", key, redact(to), sid)
    return sid


# Twilio's error codes for an SMS the carrier could not deliver, as a mediator reads them.
UNDELIVERED_REASONS = {30003: "unreachable", 30005: "unknown number", 30006: "landline",
                       30007: "filtered"}
UNDELIVERED_KEEP_SECONDS = 90 * 24 * 3600


def record_undelivered(services: Services, key: str, sid: str, to: str,
                       error_code: int | None) -> bool:
    """An SMS was not delivered (its status callback said so): note it on its ticket (the one
    `key` names, else the recipient's open ticket) and count it for today, once per message.
    Nothing is re-sent. Returns False when this message was already recorded."""
    r = services.redis
    if not r.set(f"out:undelivered:{sid}", "1", nx=True, ex=KEEP_SECONDS):
        return False
    code = str(error_code) if error_code is not None else "none"
    day = f"sms:undelivered:{_today()}"
    r.hincrby(day, code, 1)
    r.expire(day, UNDELIVERED_KEEP_SECONDS)
    kind, _, rest = key.partition(":")
    ref = rest if kind in ("cb-created", "cb-unreachable") else None
    if ref is None and to:
        ticket = services.callbacks.open_ticket_of(services.privacy.number_key(to))
        ref = ticket.ref if ticket else None
    what = {"cb-created": "confirmation", "cb-unreachable": "unreachable notice",
            "item": "item"}.get(kind, "")
    reason = UNDELIVERED_REASONS.get(error_code or 0, "undelivered")
    ticket = services.callbacks.get(ref) if ref else None
    if ticket is not None:
        services.callbacks.log_event(
            ticket.ref, f"{what + ' ' if what else ''}SMS not delivered: {reason} ({code})",
            "twilio")
    # for the reports: by reason, never by number (an event takes no code of five digits)
    services.events.add(*events("sms_undelivered", ticket.lang if ticket else "",
                                reason.replace(" ", "_")))
    log.warning("sms %s to %s not delivered (error %s): not sent again", key, redact(to), code)
    return True


def add_call_seconds(services: Services, seconds: int) -> None:
    """Count a finished call's duration against today's cap on call minutes."""
    key = f"cap:callsec:{_today()}"
    services.redis.incrby(key, max(0, seconds))
    services.redis.expire(key, 2 * 24 * 3600)


def cap_status(services: Services) -> dict[str, tuple[int, int]]:
    """Today's (used, cap) for SMS and call minutes."""
    sms = int(services.redis.get(f"cap:sms:{_today()}") or 0)
    seconds = int(services.redis.get(f"cap:callsec:{_today()}") or 0)
    return {"sms": (sms, services.settings.sms_daily_cap),
            "call minutes": (seconds // 60, services.settings.call_minutes_daily_cap)}


def count_reply(services: Services) -> bool:
    """Count one SMS answered in a webhook's TwiML against today's cap; False (nothing to send)
    once the cap is reached."""
    try:
        _count_against_cap(services, "sms", 1, services.settings.sms_daily_cap)
    except CapReached:
        return False
    return True


def _today() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%d")


def cap_key(kind: str) -> str:
    """The key counting today's `kind` (sms, callsec) against its daily cap."""
    return f"cap:{kind}:{_today()}"


def _count_against_cap(services: Services, kind: str, amount: int, cap: int) -> None:
    key = cap_key(kind)
    used = services.redis.incrby(key, amount) if amount else int(services.redis.get(key) or 0)
    services.redis.expire(key, 2 * 24 * 3600)
    if used > cap or (not amount and used >= cap):
        cap_reached(services, kind, cap)
        raise CapReached(f"daily cap on {kind} reached")


def cap_reached(services: Services, kind: str, cap: int) -> None:
    """Today's cap on `kind` is reached: alert the admins, once a day."""
    if services.redis.set(f"cap:alerted:{kind}:{_today()}", "1", nx=True, ex=2 * 24 * 3600):
        log.error("daily cap on %s reached (%d): sending stopped until tomorrow", kind, cap)
        _alert_admins(services, f"Hotline: today's cap on {kind} ({cap}) is reached; "
                                "nothing more is sent today. See the console.")


def _alert_admins(services: Services, text: str) -> None:
    for admin in (m for m in services.mediators.all() if m.is_admin and m.active):
        from workers import jobs  # here: workers.jobs imports this module

        services.enqueue(
            jobs.send_sms, admin.phone, text, f"cap-alert:{_today()}:{admin.login}",
            False, retry=retry_policy(services), description="sms cap alert")


def _once(services: Services, key: str, send: Callable[[], str],
          find: Callable[[float], str | None]) -> str | None:
    """Run `send` exactly once for `key`; see the module's docstring. Returns the new SID, or
    None when it was sent before. A failed attempt is counted for /metrics (hotline.state.ops)."""
    try:
        return _send_once(services, key, send, find)
    except DeliveryError as exc:
        ops.count_failed_send(services.redis, key.split(":", 1)[0], exc.code)
        raise


def _send_once(services: Services, key: str, send: Callable[[], str],
               find: Callable[[float], str | None]) -> str | None:
    r = services.redis
    state, now = f"out:{key}", time.time()
    claim = f"sending:{now!r}"
    if not r.set(state, claim, nx=True, ex=KEEP_SECONDS):
        current = r.get(state) or ""
        if not current.startswith("sending:"):
            log.info("%s already sent as %s", key, current)
            return None
        since = float(current.split(":", 1)[1])
        if now - since < services.settings.send_stale_seconds:
            raise InFlight(f"{key} is being sent by another attempt")
        found = _ask_twilio(lambda: find(since))
        if found:
            r.set(state, found, ex=KEEP_SECONDS)
            log.info("%s was sent before a crash, as %s", key, found)
            return None
        if not _take_over(r, state, current, claim):
            raise InFlight(f"{key} was taken over by another attempt")
    try:
        sid = _ask_twilio(send)
    except InFlight:
        raise  # ambiguous (a timeout): keep the claim, the retry asks Twilio
    except DeliveryError:
        r.delete(state)  # Twilio said no: nothing was sent, the retry may send
        raise
    r.set(state, sid, ex=KEEP_SECONDS)
    return sid


_TAKE_OVER = "if redis.call('GET', KEYS[1]) == ARGV[1] then " \
             "return redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3]) else return false end"


def _take_over(r: TextRedis, state: str, stale: str, claim: str) -> bool:
    """Replace a stale claim by ours, atomically (compare and set)."""
    return bool(r.eval(_TAKE_OVER, 1, state, stale, claim, KEEP_SECONDS))


def _ask_twilio(call: Callable[[], T]) -> T:
    """Run a Twilio API call; its errors become DeliveryError without Twilio's text (which
    may quote a phone number). A timeout becomes InFlight: it may have been sent."""
    try:
        return call()
    except CapReached:
        raise
    except TwilioRestException as exc:
        raise DeliveryError(f"Twilio answered {exc.status} (error {exc.code})",
                            str(exc.code or exc.status)) from None
    except requests.Timeout:
        raise InFlight("no answer from Twilio in time: it may have been sent", "timeout") \
            from None
    except requests.RequestException as exc:
        raise DeliveryError(f"Twilio unreachable ({type(exc).__name__})", "network") from None
