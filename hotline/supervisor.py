"""How `hotline run` keeps its processes going: the web service and the RQ worker are started
again when they die, the embedded Redis too (on its port, with its data), a Redis that stops
answering is reported, and SIGTERM or SIGINT (a supervisor's stop, or Ctrl-C) stops every one of
them. One `hotline run` per data directory: a second one is refused (exit code 2).
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import redis

from hotline.state.store import EmbeddedRedis

LOCK_FILE = "run.lock"
HEALTHY_SECONDS = 10.0  # a process that ran this long was working: restart it at once
MAX_DELAY = 30.0  # the longest wait before starting again one that keeps dying
REDIS_CHECK_SECONDS = 2.0
STOP_SECONDS = 15.0  # how long a process may take to stop before it is killed


class AlreadyRunning(Exception):
    """Another `hotline run` holds the data directory."""


def lock_data_dir(var_dir: Path) -> int:
    """Hold `var_dir/run.lock` for this process's lifetime (the open file descriptor, which
    children do not inherit); raises AlreadyRunning naming the holder's pid."""
    var_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(var_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise AlreadyRunning(
            f"hotline run is already running on {var_dir} (pid {holder}): stop it first, or "
            f"give this one a data directory of its own (HOTLINE_VAR_DIR)") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    return fd


@dataclass
class Child:
    """One supervised process."""

    name: str
    command: list[str]
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    delay: float = 0.0  # before the next start, when it keeps dying
    due: float = 0.0  # when to start it again (monotonic), 0 while running
    ever_healthy: bool = False

    def start(self) -> None:
        self.process = subprocess.Popen(self.command, env=self.env)
        self.started, self.due = time.monotonic(), 0.0


@dataclass
class Supervisor:
    """Runs `children` (and watches `redis_url`, the `embedded` server if any) until a signal."""

    children: list[Child]
    redis_url: str
    echo: Callable[..., None]
    embedded: EmbeddedRedis | None = None
    stop_signal: int | None = None
    _redis_ok: bool = True
    _next_redis_check: float = 0.0
    _redis_delay: float = 0.0
    _client: redis.Redis | None = field(default=None, repr=False)

    def install_signal_handlers(self) -> None:
        """SIGTERM and SIGINT ask for a stop (handled in `run`'s loop)."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stop_signal = signum

    def start(self) -> None:
        """Start every child."""
        for child in self.children:
            child.start()

    def run(self) -> int:
        """Supervise until a signal arrives (returns 0) or a child fails by itself (not killed by
        a signal) on its very first start (returns its exit code)."""
        while self.stop_signal is None:
            for child in self.children:
                code = self._watch(child)
                if code is not None:
                    return code
            self._watch_redis()
            time.sleep(0.25)
        name = signal.Signals(self.stop_signal).name
        self.echo(f"\n{name} received: stopping…")
        return 0

    def _watch(self, child: Child) -> int | None:
        now = time.monotonic()
        if child.due:
            if now >= child.due and self.stop_signal is None:
                self.echo(f"{child.name}: starting again")
                child.start()
            return None
        assert child.process is not None
        code = child.process.poll()
        if code is None:
            if not child.ever_healthy and now - child.started >= HEALTHY_SECONDS:
                child.ever_healthy = True
            return None
        if self.stop_signal is not None:  # Ctrl-C reached it too: no restart
            return None
        if code > 0 and not child.ever_healthy and now - child.started < HEALTHY_SECONDS:
            # It failed by itself as it started (a port taken, a setting): restarting won't help.
            self.echo(f"{child.name} stopped with exit code {code} as it started", err=True)
            return code
        ran = now - child.started
        child.delay = 0.0 if ran >= HEALTHY_SECONDS else min(max(child.delay * 2, 1.0), MAX_DELAY)
        child.due = now + child.delay
        self.echo(f"{child.name} stopped with exit code {code}; restarting it"
                  + (f" in {child.delay:.0f} s" if child.delay else ""), err=True)
        return None

    def _watch_redis(self) -> None:
        now = time.monotonic()
        if now < self._next_redis_check:
            return
        self._next_redis_check = now + REDIS_CHECK_SECONDS
        embedded = self.embedded
        if embedded and embedded.process and embedded.process.poll() is not None:
            code = embedded.process.returncode
            self.echo(f"Redis stopped (exit code {code}); restarting it on {embedded.url} with "
                      f"its data", err=True)
            try:
                embedded.start()
            except RuntimeError as exc:
                self._redis_delay = min(max(self._redis_delay * 2, REDIS_CHECK_SECONDS),
                                        MAX_DELAY)
                self._next_redis_check = now + self._redis_delay
                self.echo(f"Redis did not start again ({exc}); next try in "
                          f"{self._redis_delay:.0f} s", err=True)
                return
            self._redis_delay = 0.0
        if self._client is None:
            self._client = redis.Redis.from_url(self.redis_url, socket_timeout=1,
                                                socket_connect_timeout=1)
        try:
            self._client.ping()
            ok = True
        except redis.RedisError:
            ok = False
        if ok != self._redis_ok:
            self.echo("Redis answers again" if ok else
                      f"Redis does not answer at {self.redis_url}: the line keeps informing, "
                      f"callback requests wait in the spool", err=not ok)
            self._redis_ok = ok

    def stop(self) -> None:
        """Stop every child (SIGTERM, then SIGKILL after STOP_SECONDS); the embedded Redis is its
        owner's to stop."""
        running = [c.process for c in self.children if c.process and c.process.poll() is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        for process in running:
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
