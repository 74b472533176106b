"""A durable local spool for what must not be lost while Redis is unreachable: callback requests,
and the SMS commands that always take effect (STOP and START, FORGET).

Each is one JSON line appended to `var/spool/callbacks.jsonl` and fsynced before the texter or
caller is answered; a number in it is encrypted, or only its keyed hash is kept. `kind` says what
the line is: "callback" (also when absent), "optout" (`value` "1" for STOP, "" for START) or
"forget". `replay` hands every line over once, in order (so a FORGET erases a request spooled
before it): each carries an id, the queue records the ids of the requests it has taken
(`cb:req:<id>`), and the SMS commands are idempotent, so a replay cut short and run again creates
nothing twice.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)
FILE = "callbacks.jsonl"


class Spool:
    """The spool file under `folder`."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.path = folder / FILE

    def append(self, entry: dict[str, str]) -> dict[str, str]:
        """Write `entry` (plus an id and the time) durably; returns what was written."""
        record = {"id": secrets.token_hex(12), "at": repr(time.time()), **entry}
        self.folder.mkdir(parents=True, exist_ok=True)
        line = (json.dumps(record, sort_keys=True) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        return record

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
            os.ftruncate(fd, 0)
            os.fsync(fd)
            return done
        finally:
            os.close(fd)
