"""Redis writes a request does not wait for: queued in the process, sent in the background.

A voice menu step only counts anonymous events and moves the call's position (hotline.state.events),
and an SMS, once answered, only keeps the texter's menu and counts (hotline.state.sms): nothing
in the answer depends on these writes. They join this process's queue; a daemon thread
sends whatever is queued every `interval` seconds as one pipeline (one round trip for many
requests), so the request itself makes no round trip. Writes leave in the order they were queued;
a call a request waits for (`send`) leaves after every write this process queued about the same
thing (a texter's number key, a call), in the same round trip, and alone otherwise.

What it costs: counts and positions reach Redis up to `interval` later (a report read in this
process flushes first), a process killed without exiting loses at most that fraction of a
second of them, and a batch Redis refuses is dropped (logged, counted in `dropped`): these are
counts and a texter's place in the menus, never a callback request, a message, an opt-out or a
chosen language (those are written before the answer). At most `limit` writes wait; beyond
that (Redis unreachable for a while) new ones are dropped. The thread starts with the first write
queued (in each process: a forked worker, gunicorn's or RQ's, gets its own) and ends when idle.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from collections.abc import Sequence
from typing import Any, ClassVar

import redis
from redis.commands.core import Script

from hotline.state.client import TextRedis

log = logging.getLogger(__name__)
INTERVAL_SECONDS = 0.05
LIMIT = 20_000
IDLE_SECONDS = 5.0


class DeferredWrites:
    """This process's queue of script calls for `r`, sent by a background thread."""

    live: ClassVar[weakref.WeakSet[DeferredWrites]] = weakref.WeakSet()  # this process's queues

    def __init__(self, r: TextRedis, interval: float = INTERVAL_SECONDS, limit: int = LIMIT):
        DeferredWrites.live.add(self)
        self.r = r
        self.interval = interval
        self.limit = limit
        self.dropped = 0  # writes dropped (Redis refused a batch, or the queue was full)
        self._reset()
        method = weakref.WeakMethod(self._reset)
        os.register_at_fork(after_in_child=lambda: _call(method))
        atexit.register(_call, weakref.WeakMethod(self._at_exit))

    def _reset(self) -> None:
        """A new process (or a new queue): the parent's queued writes and thread are the
        parent's; its locks may have been held at the fork."""
        self._queue: list[tuple[Script, Sequence[Any], Sequence[Any]]] = []
        self._tags: set[str] = set()  # what the queued writes are about
        self._sending: set[str] = set()  # what the batch on the wire is about
        self._lock = threading.Lock()
        self._send = threading.Lock()  # one batch on the wire at a time, in queue order
        self._running = False

    def submit(self, script: Script, keys: Sequence[Any], args: Sequence[Any],
               tag: str = "") -> None:
        """Queue a call of `script` about `tag` (a number key, a call: see `send`); it is sent
        within `interval` seconds."""
        with self._lock:
            if len(self._queue) >= self.limit:
                self.dropped += 1
                return
            self._queue.append((script, keys, args))
            self._tags.add(tag)
            if not self._running:
                self._running = True
                threading.Thread(target=self._run, name="deferred-writes", daemon=True).start()

    def flush(self) -> None:
        """Send what is queued now, from this thread (raises redis.RedisError if Redis fails;
        the batch is then dropped)."""
        self._send_with(None)

    def send(self, script: Script, keys: Sequence[Any], args: Sequence[Any],
             tag: str = "") -> Any:
        """Call `script` about `tag` now and return its answer. When this process has writes
        about the same `tag` queued or on the wire, it goes after them (with the queue, in one
        round trip): it never overtakes them. Writes about other things are left to the
        background (they touch other keys, or add to counters, where order does not matter)."""
        with self._lock:
            waits = bool(tag) and (tag in self._tags or tag in self._sending)
        if waits:
            return self._send_with((script, keys, args))
        return script(keys=keys, args=args)

    def _send_with(self, last: tuple[Script, Sequence[Any], Sequence[Any]] | None) -> Any:
        with self._send:
            with self._lock:
                batch, self._queue = self._queue, []
                self._sending, self._tags = self._tags, set()
            try:
                if not batch:
                    return None if last is None else last[0](keys=last[1], args=last[2])
                calls = batch if last is None else [*batch, last]
                try:
                    answers = self._pipeline(calls)
                except redis.RedisError:
                    self.dropped += len(batch)
                    raise
                return None if last is None else answers[-1]
            finally:
                with self._lock:
                    self._sending = set()

    def _pipeline(self, calls: list[tuple[Script, Sequence[Any], Sequence[Any]]]) -> list[Any]:
        """The calls by their scripts' digests in one round trip (redis-py's own pipelining of
        scripts asks SCRIPT EXISTS first: a second one); loaded and sent again only when Redis
        does not know a script (it restarted)."""
        for attempt in (1, 2):
            pipe = self.r.pipeline(transaction=False)
            for script, keys, args in calls:
                pipe.evalsha(script.sha, len(keys), *keys, *args)
            try:
                return pipe.execute()
            except redis.exceptions.NoScriptError:
                if attempt == 2:
                    raise
                for script in {id(c[0]): c[0] for c in calls}.values():
                    script.sha = self.r.script_load(script.script)
        raise AssertionError("unreachable")

    def _run(self) -> None:
        """Send every `interval`; end after IDLE_SECONDS with nothing to send (the next write
        starts a thread again)."""
        idle = 0.0
        while True:
            time.sleep(self.interval)
            with self._lock:
                if not self._queue:
                    idle += self.interval
                    if idle >= IDLE_SECONDS:
                        self._running = False
                        return
                    continue
            idle = 0.0
            try:
                self.flush()
            except redis.RedisError as error:
                log.warning("Redis refused deferred writes (anonymous counts lost): %s",
                            type(error).__name__)
            except Exception:  # the thread must outlive any one batch
                log.exception("deferred writes failed")

    def _at_exit(self) -> None:
        try:
            self.flush()
        except redis.RedisError:
            log.warning("Redis unreachable at exit: the last anonymous counts are lost")


def _call(method: weakref.WeakMethod[Any]) -> None:
    """Call `method` unless its object is gone."""
    found = method()
    if found is not None:
        found()
