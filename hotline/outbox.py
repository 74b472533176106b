"""Outgoing SMS: queued as RQ jobs, sent once, never to an opted-out number.

The webhook calls `queue_sms`; the job (`workers.jobs.send_sms`) calls `deliver`. The job's
arguments hold the number encrypted, never in clear (RQ keeps them in Redis).

Keys: `out:sms:<key>` is "sending" while a send is in flight, then the Message SID; 7 days.
A job retried after a failure with that key already holding a SID sends nothing.
"""

from __future__ import annotations

import logging

from rq import Queue, Retry

from hotline import sms_state
from hotline.privacy import redact
from hotline.services import Services
from hotline.twilio_rest import send_message

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


def deliver(services: Services, to_token: str, body: str, key: str) -> str | None:
    """Send the SMS unless opted out or already sent; returns its Message SID or None."""
    to = services.privacy.decrypt(to_token)
    r = services.redis
    if sms_state.is_opted_out(r, services.privacy.number_key(to)):
        log.info("sms %s not sent: %s has opted out", key, redact(to))
        return None
    state = f"out:sms:{key}"
    if not r.set(state, "sending", nx=True, ex=KEEP_SECONDS):
        log.info("sms %s already sent or being sent: %s", key, r.get(state))
        return None
    try:
        sid = send_message(services.twilio, services.config["TWILIO_PHONE_NUMBER"], to, body)
    except Exception:
        r.delete(state)  # let the retry send it
        raise
    r.set(state, sid, ex=KEEP_SECONDS)
    log.info("sms %s sent to %s as %s", key, redact(to), sid)
    return sid
