"""FORGET: erase everything the line keeps about one phone number, on request, by SMS.

Its SMS state (session, language, opt-out, reply counters) and every ticket it opened (queued or
closed, with their histories) are deleted; voice messages are deleted at Twilio too. The audit log
keeps its entries: they name tickets, never numbers.
"""

from __future__ import annotations

import logging

from hotline.callbacks import outbox
from hotline.services import Services
from hotline.state.privacy import redact

log = logging.getLogger(__name__)


def forget(services: Services, number: str) -> int:
    """Erase what is kept about `number`; returns how many tickets were deleted."""
    r, n = services.redis, services.privacy.number_key(number)
    refs = list(r.smembers(f"cb:by_number:{n}"))
    for ref in refs:
        ticket = services.callbacks.get(ref)
        if ticket and ticket.voice:
            queue_recording_deletion(services, ticket.voice)
        pipe = r.pipeline()
        if ticket:
            pipe.zrem(f"cb:queue:{ticket.lang}", ref)
        pipe.zrem("cb:claims", ref)
        pipe.delete(f"cb:ticket:{ref}", f"cb:log:{ref}")
        pipe.execute()
    r.delete(f"cb:by_number:{n}", f"cb:open:{n}", f"sms:session:{n}", f"lang:{n}",
             f"sms:optout:{n}", *r.keys(f"sms:rate:{n}:*"), *r.keys(f"cb:rate:{n}:*"))
    log.info("forgot %s: %d ticket(s)", redact(number), len(refs))
    return len(refs)


def queue_recording_deletion(services: Services, recording_url: str) -> None:
    """Delete a voice message at Twilio, in the background (retried; deleting twice is harmless)."""
    sid = recording_url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".json")
    from workers import jobs  # here: workers.jobs imports this module

    services.enqueue(
        jobs.delete_recording, sid, retry=outbox.retry_policy(services),
        description=f"delete recording {sid}")
