"""Outgoing SMS and calls: queued as RQ jobs, made once, SMS never to an opted-out number.

Webhooks call `queue_sms` / `queue_call`; the jobs (`workers.jobs`) call `deliver` / `place`.
The jobs' arguments hold the number encrypted, never in clear (RQ keeps them in Redis).

Keys: `out:sms:<key>` / `out:call:<key>` is "sending" while a send is in flight, then the
Message or Call SID; 7 days. A job retried with that key already holding a SID sends nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from rq import Queue, Retry

from hotline import sms_state
from hotline.privacy import redact
from hotline.services import Services
from hotline.twilio_rest import place_call, send_message

log = logging.getLogger(__name__)
QUEUE = "hotline"
KEEP_SECONDS = 7 * 24 * 3600
RETRY = Retry(max=5, interval=[5, 30, 120, 300, 900])


def queue_sms(services: Services, to: str, body: str, key: str) -> None:
    """Enqueue one SMS to `to`, identified by `key` (the same key is never sent twice)."""
    Queue(QUEUE, connection=services.redis).enqueue(
        "workers.jobs.send_sms", services.privacy.encrypt(to), body, key,
        retry=RETRY, result_ttl=3600, failure_ttl=KEEP_SECONDS,
        description=f"sms {key}",
    )


def queue_call(services: Services, to: str, url: str, status_callback: str, key: str) -> None:
    """Enqueue one outgoing call to `to` whose TwiML is at `url`; `key` makes it happen once."""
    Queue(QUEUE, connection=services.redis).enqueue(
        "workers.jobs.place_call", services.privacy.encrypt(to), url, status_callback, key,
        retry=RETRY, result_ttl=3600, failure_ttl=KEEP_SECONDS, description=f"call {key}",
    )


def deliver(services: Services, to_token: str, body: str, key: str) -> str | None:
    """Send the SMS unless opted out or already sent; returns its Message SID or None."""
    to = services.privacy.decrypt(to_token)
    if sms_state.is_opted_out(services.redis, services.privacy.number_key(to)):
        log.info("sms %s not sent: %s has opted out", key, redact(to))
        return None
    sender = services.config["TWILIO_PHONE_NUMBER"]
    sid = _once(services, f"sms:{key}", lambda: send_message(services.twilio, sender, to, body))
    if sid:
        log.info("sms %s sent to %s as %s", key, redact(to), sid)
    return sid


def place(services: Services, to_token: str, url: str, status_callback: str,
          key: str) -> str | None:
    """Place the call unless already placed; returns its Call SID or None."""
    to = services.privacy.decrypt(to_token)
    sid = _once(services, f"call:{key}", lambda: place_call(
        services.twilio, services.config["TWILIO_PHONE_NUMBER"], to, url, status_callback))
    if sid:
        log.info("call %s placed to %s as %s", key, redact(to), sid)
    return sid


def _once(services: Services, key: str, send: Callable[[], str]) -> str | None:
    """Run `send` unless `key` was sent (or is being sent); keep the SID it returns."""
    r = services.redis
    state = f"out:{key}"
    if not r.set(state, "sending", nx=True, ex=KEEP_SECONDS):
        log.info("%s already sent or being sent: %s", key, r.get(state))
        return None
    try:
        sid = send()
    except Exception:
        r.delete(state)  # let the retry send it
        raise
    r.set(state, sid, ex=KEEP_SECONDS)
    return sid
