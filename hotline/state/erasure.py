"""FORGET: erase everything the line keeps about one phone number, on request, by SMS.

Its SMS state (session, language, opt-out, reply counters) and every ticket it opened (queued or
closed, with their histories and the caller's notes) are deleted; voice messages are deleted at
Twilio too; for ten seconds after, `forgot:<n>` keeps a write deferred from before the erasure
(hotline.state.deferred) from landing. The audit log keeps its entries: they name tickets, never
numbers. Redis's append-only
file would still hold the erased writes until it is rewritten: a job rewrites it (BGREWRITEAOF).
"""

from __future__ import annotations

import logging
import time

import redis

from hotline.callbacks import outbox
from hotline.services import Services
from hotline.state import sms as sms_state
from hotline.state.privacy import redact

log = logging.getLogger(__name__)


def forget(services: Services, number: str) -> int:
    """Erase what is kept about `number`; returns how many tickets were deleted."""
    r, n = services.redis, services.privacy.number_key(number)
    services.deferred.flush()  # this process's writes about the number land before the erasure
    r.set(sms_state.forgot_key(n), "1", ex=sms_state.FORGOT_SECONDS)  # and others' after it
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
             f"sms:optout:{n}", f"mc:wait:{n}", *r.keys(f"sms:rate:{n}:*"),
             *r.keys(f"cb:rate:{n}:*"), *r.keys(f"mc:day:{n}:*"))
    log.info("forgot %s: %d ticket(s)", redact(number), len(refs))
    from workers import jobs  # here: workers.jobs imports this module

    services.enqueue(jobs.rewrite_append_only_file, retry=outbox.retry_policy(services),
                     description="rewrite the append-only file after an erasure")
    return len(refs)


def rewrite_append_only_file(r: redis.Redis, wait_seconds: float = 60.0) -> bool:
    """Rewrite Redis's append-only file from what Redis holds now, so erased data leaves the disk.
    A rewrite already running may have started before the erasure: wait for it, then start ours.
    Returns False when Redis keeps no append-only file (nothing to rewrite); raises TimeoutError
    when a running rewrite does not end within `wait_seconds` (the job is retried)."""
    deadline = time.monotonic() + wait_seconds
    while True:
        info = r.info("persistence")
        if not int(info.get("aof_enabled", 0)):
            return False
        if not (int(info.get("aof_rewrite_in_progress", 0))
                or int(info.get("aof_rewrite_scheduled", 0))):
            try:
                r.bgrewriteaof()
                return True
            except redis.ResponseError as exc:
                if "in progress" not in str(exc):
                    raise
        if time.monotonic() > deadline:
            raise TimeoutError("an append-only file rewrite is still running")
        time.sleep(0.2)


def queue_recording_deletion(services: Services, recording_url: str) -> None:
    """Delete a voice message at Twilio, in the background (retried; deleting twice is harmless)."""
    sid = recording_url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".json")
    from workers import jobs  # here: workers.jobs imports this module

    services.enqueue(
        jobs.delete_recording, sid, retry=outbox.retry_policy(services),
        description=f"delete recording {sid}")
