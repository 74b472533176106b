"""A durable local spool for what must not be lost while Redis is unreachable: callback requests,
and the SMS commands that always take effect (STOP and START, FORGET).

Each is one JSON line appended to `var/spool/callbacks.jsonl` and fsynced before the texter or
caller is answered; a number in it is encrypted, or only its keyed hash is kept. `kind` says what
the line is: "callback" (also when absent), "optout" (`value` "1" for STOP, "" for START) or
"forget". `replay` hands every line over once, in order (so a FORGET erases a request spooled
before it): each carries an id, the queue records the ids of the requests it has taken
(`cb:req:<id>`), and the SMS commands are idempotent, so a replay cut short and run again creates
nothing twice.

A callback request spooled is told a reference that will exist: the same number's request already
in the spool gives its reference again (as the queue would join it), and a new one is `SPOOL_PREFIX`
followed by a counter kept in `var/spool/next-ref`, from a space the queue never draws from
(`hotline.callbacks.queue.new_ref`), so no two spooled requests and no ticket made while Redis is up
share one (until 100,000 spooled requests later).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from hotline.callbacks.queue import REF_DIGITS, SPOOL_PREFIX

log = logging.getLogger(__name__)
FILE = "callbacks.jsonl"
COUNTER = "next-ref"
SPACE = 10 ** (REF_DIGITS - 1)  # spool references: SPOOL_PREFIX and a counter below SPACE


class Spool:
    """The spool file under `folder`."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.path = folder / FILE
        self._counter = folder / COUNTER

    def append(self, entry: dict[str, str]) -> dict[str, str]:
        """Write `entry` (plus an id and the time) durably; returns what was written."""
        with self._locked() as fd:
            return self._write(fd, entry)

    def add_request(self, entry: dict[str, str]) -> tuple[str, bool]:
        """Spool a callback request of `entry["number_key"]`; returns (ref, joined): the ref of
        that number's request already waiting here (joined), else a new spool reference."""
        with self._locked() as fd:
            data = os.pread(fd, os.fstat(fd).st_size, 0)
            ref = _waiting_ref(data, entry["number_key"])
            joined = ref is not None
            if ref is None:
                ref = self._next_ref(data)
            self._write(fd, {**entry, "ref": ref})
            return ref, joined

    @contextlib.contextmanager
    def _locked(self) -> Iterator[int]:
        """The spool file, open for reading and appending, locked against other processes."""
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield fd
        finally:
            os.close(fd)

    @staticmethod
    def _write(fd: int, entry: dict[str, str]) -> dict[str, str]:
        record = {"id": secrets.token_hex(12), "at": repr(time.time()), **entry}
        os.write(fd, (json.dumps(record, sort_keys=True) + "\n").encode())
        os.fsync(fd)
        return record

    def _next_ref(self, data: bytes) -> str:
        """The next spool reference, past those in the spool (`data`), under the spool's lock.
        The counter is written without fsync: the spool's own lines (fsynced) cover a counter
        lost in a crash, and a replay fsyncs it before it empties the spool."""
        width = REF_DIGITS - 1
        fd = os.open(self._counter, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            stored = os.pread(fd, width, 0)
            # a fresh var/ starts anywhere in the space
            count = int(stored) % SPACE if stored.isdigit() else secrets.randbelow(SPACE)
            while f'"ref": "{SPOOL_PREFIX}{count:0{width}d}"'.encode() in data:  # still spooled
                count = (count + 1) % SPACE
            os.pwrite(fd, str((count + 1) % SPACE).zfill(width).encode(), 0)  # no truncation
        finally:
            os.close(fd)
        return f"{SPOOL_PREFIX}{count:0{REF_DIGITS - 1}d}"

    def pending(self) -> bool:
        """True when something waits in the spool."""
        try:
            return self.path.stat().st_size > 0
        except FileNotFoundError:
            return False

    def replay(self, take: Callable[[dict[str, str]], None]) -> int:
        """Hand every spooled entry to `take` (which must be idempotent by entry id), then empty
        the spool. Stops at the first failure, keeping everything for the next try. Returns the
        number of entries handed over."""
        if not self.pending():
            return 0
        fd = os.open(self.path, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # appends wait; another replay waits
            with os.fdopen(os.dup(fd), "rb") as reader:
                lines = [line for line in reader.read().splitlines() if line.strip()]
            done = 0
            for line in lines:
                try:
                    entry = json.loads(line)
                except ValueError:
                    log.error("spool: skipping an unreadable line (%d bytes)", len(line))
                    continue
                take(entry)
                done += 1
            with contextlib.suppress(FileNotFoundError), self._counter.open("rb") as counter:
                os.fsync(counter.fileno())
            os.ftruncate(fd, 0)
            os.fsync(fd)
            return done
        finally:
            os.close(fd)


def _waiting_ref(data: bytes, number_key: str) -> str | None:
    """The ref of the last callback request of `number_key` in the spool's `data`, unless a
    FORGET of the number follows it."""
    if number_key.encode() not in data:
        return None
    ref = None
    for line in data.splitlines():
        if number_key.encode() not in line:
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("number_key") != number_key:
            continue
        kind = entry.get("kind", "callback")
        if kind == "callback":
            ref = entry["ref"]
        elif kind == "forget":
            ref = None
    return ref
