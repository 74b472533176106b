"""The minute-by-minute maintenance (spool replay, claim expiry, wait alerts, recording deletion),
kept going by every worker whatever happens to Redis or to the other workers.

Nothing about the schedule lives in Redis where it could expire or be lost: every `hotline worker`
looks at the clock each time it wakes (at start, after each job, and at least every WAKE_SECONDS
while idle, Redis reachable or not) and tries to take the current minute's slot; the process that
takes it enqueues `workers.jobs.maintenance` at the front of the queue. After a Redis outage of any
length, a Redis restarted empty, or a worker killed, the next wake-up of any worker resumes it.
(rq's own `rq cron` keeps its schedule in memory too, but it is one more process to supervise, and
it stops at the first Redis error.)

Keys: `maint:slot` (taken by the process that enqueued this minute's run; expires after
SLOT_SECONDS), `maint:last` (when maintenance last ran, epoch seconds; for /healthz).
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import time
from typing import Any

import redis
from rq import Worker

from hotline.services import Services
from workers import jobs

log = logging.getLogger(__name__)
EVERY_SECONDS = 60
SLOT_SECONDS = EVERY_SECONDS - 5  # a wake-up just before the minute is up still finds it taken
WAKE_SECONDS = 20
JOB_PREFIX = "hotline-maintenance"


def tick(found: Services, force: bool = False) -> str | None:
    """Enqueue the maintenance job unless some process did within the last minute (`force`: in
    any case); returns its job id, or None when it was not this process's turn."""
    now = int(time.time())
    if not found.redis.set("maint:slot", str(now), nx=not force, ex=SLOT_SECONDS):
        return None
    try:
        job = found.enqueue(jobs.maintenance, job_id=f"{JOB_PREFIX}-{now}-{secrets.token_hex(4)}",
                            at_front=True,
                            ttl=3 * EVERY_SECONDS, result_ttl=5 * EVERY_SECONDS,
                            description="maintenance")
    except redis.RedisError:
        with contextlib.suppress(redis.RedisError):  # else no run for a minute: free the slot
            found.redis.delete("maint:slot")
        raise
    return job.id


def mark_done(found: Services) -> None:
    """Record that maintenance ran now."""
    found.redis.set("maint:last", repr(time.time()))


def last_run(found: Services) -> float | None:
    """When maintenance last ran (epoch seconds), or None."""
    value = found.redis.get("maint:last")
    return float(value) if value else None


class MaintainingWorker(Worker):
    """An RQ worker that also keeps the maintenance clock (`tick`) each time it wakes.

    It wakes at least every WAKE_SECONDS (its queue wait is shortened to that), and runs rq's own
    upkeep (registries; restarting its scheduler process if that died, say on a Redis error)
    every minute rather than every ten."""

    def __init__(self, *args: Any, services: Services, **kwargs: Any):
        kwargs.setdefault("worker_ttl", WAKE_SECONDS + 15)  # rq waits worker_ttl - 15 s per look
        kwargs.setdefault("maintenance_interval", EVERY_SECONDS)
        super().__init__(*args, **kwargs)
        self.services = services

    def check_for_suspension(self, burst: bool) -> None:
        """rq's check, except that Redis going away here does not end the worker (rq quits on any
        error outside its queue wait): the queue wait that follows retries until it is back."""
        try:
            super().check_for_suspension(burst)
        except redis.ConnectionError:
            log.warning("suspension check: Redis unreachable")

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        """rq's heartbeat; between jobs, Redis going away does not end the worker (see above)."""
        if pipeline is not None:
            super().heartbeat(timeout, pipeline)
            return
        try:
            super().heartbeat(timeout)
        except redis.ConnectionError:
            log.warning("heartbeat: Redis unreachable")

    @property
    def should_run_maintenance_tasks(self) -> bool:
        """Every wake-up: the clock is one SET NX."""
        return True

    def run_maintenance_tasks(self) -> None:
        """rq's upkeep when due, then the maintenance clock."""
        try:
            if super().should_run_maintenance_tasks:
                super().run_maintenance_tasks()
            tick(self.services)
        except redis.RedisError as exc:  # the worker's own loop waits for Redis to come back
            log.warning("maintenance clock: Redis unreachable (%s)", type(exc).__name__)
