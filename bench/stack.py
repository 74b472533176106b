"""The stack under test, started exactly as an operator starts it: `hotline run` in a subprocess
(embedded Redis, gunicorn, an RQ worker, the Twilio sandbox), plus the baseline app under a
gunicorn whose command line is copied from the one `hotline run` started, with only the address
and the app changed.

Both run in sessions of their own and are stopped by process id: `hotline run` gets SIGINT (its
Ctrl-C), the baseline SIGTERM; any process still in their sessions after the grace period is
killed, by its id.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import redis
from rq import Worker

from bench.machine import CpuSnapshot, ServerCpu, own_cpu, process_cpu, snapshot
from hotline.state.store import free_port

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
STOP_SECONDS = 30


def children(pid: int) -> list[int]:
    """The process ids whose parent is `pid`."""
    try:
        return sorted(child.pid for child in psutil.Process(pid).children())
    except psutil.Error:
        return []


def session(sid: int) -> list[int]:
    """The process ids in session `sid` (everything a process started in its own session)."""
    found = []
    for pid in psutil.pids():
        with contextlib.suppress(OSError):
            if os.getsid(pid) == sid:
                found.append(pid)
    return found


def cmdline(pid: int) -> list[str]:
    """The command line of `pid` (empty when it is gone)."""
    try:
        return psutil.Process(pid).cmdline()
    except psutil.Error:
        return []


def rss_mib(pid: int) -> float | None:
    """Resident memory (VmRSS) of `pid` in MiB; None when it is gone."""
    try:
        return psutil.Process(pid).memory_info().rss / 2**20
    except psutil.Error:
        return None


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie does not)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def wait_http(url: str, timeout: float, ready: Callable[[bytes], bool] | None = None) -> None:
    """Wait until GET `url` answers 200 (and `ready(body)` is true); raise after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:
                if reply.status == 200 and (ready is None or ready(reply.read())):
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")
        time.sleep(0.2)


@dataclass
class Stack:
    """`hotline run` and the baseline gunicorn; see the module's docstring."""

    workdir: Path
    audio_root: Path
    token: str
    port: int = field(default_factory=free_port)
    bare_port: int = field(default_factory=free_port)
    redis_port: int = field(default_factory=free_port)
    run: subprocess.Popen[bytes] | None = None
    bare: subprocess.Popen[bytes] | None = None

    @property
    def redis_url(self) -> str:
        return f"redis://{HOST}:{self.redis_port}/0"

    @property
    def log(self) -> Path:
        return self.workdir / "hotline-run.log"

    def env(self) -> dict[str, str]:
        """The environment `hotline run` gets: ours, minus anything pointing elsewhere."""
        env = {k: v for k, v in os.environ.items() if k not in (
            "REDIS_URL", "TWILIO_ACCOUNT_SID", "TWILIO_API_BASE_URL", "PUBLIC_BASE_URL",
            "HOTLINE_INSECURE_DEV", "HOTLINE_SECRET_KEY")}
        env.update(
            TWILIO_AUTH_TOKEN=self.token,              # signatures are checked
            HOTLINE_VAR_DIR=str(self.workdir / "var"),  # Redis data, keys: private to the run
            HOTLINE_AUDIO_ROOT=str(self.audio_root),
            REDIS_PORT=str(self.redis_port),
            PORT=str(self.port),
            # A burst of SMS-by-voice must not hit the production daily cap (2,000) mid-run.
            HOTLINE_SMS_DAILY_CAP="1000000",
            PYTHONUNBUFFERED="1",
        )
        return env

    def start(self, timeout: float = 90) -> None:
        """Start `hotline run`, wait for the web, Redis and the RQ worker; then the baseline."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        command = [str(BIN / "hotline"), "run", "--host", HOST, "--port", str(self.port)]
        with open(self.log, "wb") as out:
            self.run = subprocess.Popen(command, env=self.env(), cwd=PROJECT_ROOT,
                                        stdout=out, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True)
        base = f"http://{HOST}:{self.port}"
        try:
            wait_http(base + "/healthz", timeout, lambda body: b'"redis":"ok"' in body)
            client = redis.Redis.from_url(self.redis_url)
            deadline = time.monotonic() + timeout
            while not Worker.all(connection=client):
                if time.monotonic() > deadline:
                    raise RuntimeError("the RQ worker did not register")
                time.sleep(0.2)
            self._start_bare(timeout)
        except Exception:
            self.stop()
            raise

    def _start_bare(self, timeout: float) -> None:
        master = self.gunicorn_master()
        if master is None:
            raise RuntimeError("no gunicorn under `hotline run`")
        command = self.bare_command(cmdline(master))
        with open(self.workdir / "bare.log", "wb") as out:
            self.bare = subprocess.Popen(command, env=self.env(), cwd=PROJECT_ROOT, stdout=out,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        deadline = time.monotonic() + timeout
        while len(children(self.bare.pid)) < self.web_workers_count():
            if self.bare.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the baseline gunicorn did not start: see {out.name}")
            time.sleep(0.2)
        probe = f"http://{HOST}:{self.bare_port}/twiml/100"
        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(urllib.request.Request(probe, data=b"", method="POST"),
                                       timeout=2).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the baseline gunicorn does not answer") from None
                time.sleep(0.2)

    def bare_command(self, hotline_gunicorn: list[str]) -> list[str]:
        """The hotline's gunicorn command line with the baseline's address and app."""
        command = list(hotline_gunicorn)
        at = command.index("--bind")
        command[at + 1] = f"{HOST}:{self.bare_port}"
        apps = [i for i, part in enumerate(command) if part == "hotline.wsgi:app"]
        if len(apps) != 1:
            raise RuntimeError(f"cannot find the app in {command}")
        command[apps[0]] = "bench.bare_app:app"
        return command

    def gunicorn_master(self) -> int | None:
        if self.run is None:
            return None
        return next((p for p in children(self.run.pid) if "gunicorn" in " ".join(cmdline(p))),
                    None)

    def rq_worker(self) -> int | None:
        if self.run is None:
            return None
        return next((p for p in children(self.run.pid)
                     if re.search(r"\b(rq|hotline)\b.* worker\b", " ".join(cmdline(p)))), None)

    def rq_scheduler(self) -> int | None:
        """The worker's first child: `--with-scheduler` forks it at start; jobs come later."""
        worker = self.rq_worker()
        try:
            found = psutil.Process(worker).children() if worker else []
        except psutil.Error:
            return None
        return min(found, key=lambda p: p.create_time()).pid if found else None

    def redis_server(self) -> int | None:
        if self.run is None:
            return None
        return next((p for p in children(self.run.pid) if "redis-server" in " ".join(cmdline(p))),
                    None)

    def web_workers(self) -> list[int]:
        master = self.gunicorn_master()
        return children(master) if master else []

    def web_workers_count(self) -> int:
        return len(self.web_workers())

    def bare_workers(self) -> list[int]:
        return children(self.bare.pid) if self.bare else []

    def sandbox_url(self) -> str:
        """The Twilio sandbox's base URL, as `hotline run` printed it."""
        found = re.search(r"local sandbox \((http://[^)]+)\)", self.log.read_text(errors="replace"))
        if not found:
            raise RuntimeError("`hotline run` did not print its sandbox's URL")
        return found.group(1)

    def sandbox_sms_count(self) -> int:
        """SMS the Twilio sandbox received: `hotline run` prints one line for each."""
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return 0
        return text.count("[sandbox] SMS to")

    def memory(self) -> dict[str, float | None]:
        """VmRSS (MiB) of each process of the stack, by role."""
        out: dict[str, float | None] = {}
        master = self.gunicorn_master()
        if master:
            out["gunicorn master"] = rss_mib(master)
        for i, pid in enumerate(self.web_workers(), 1):
            out[f"gunicorn worker {i}"] = rss_mib(pid)
        worker = self.rq_worker()
        if worker:
            out["rq worker"] = rss_mib(worker)
            scheduler = self.rq_scheduler()
            if scheduler:
                out["rq scheduler (forked by the worker)"] = rss_mib(scheduler)
        server = self.redis_server()
        if server:
            out["redis-server"] = rss_mib(server)
        if self.run:
            out["`hotline run` (with the sandbox)"] = rss_mib(self.run.pid)
        return out

    def cpu(self) -> CpuSnapshot:
        """Busy CPU seconds so far, per role (a role's processes summed)."""
        roles: dict[str, float] = {"bench client (this process)": own_cpu()}
        master = self.gunicorn_master()
        roles["gunicorn workers"] = sum(process_cpu(p) for p in self.web_workers())
        roles["gunicorn master"] = process_cpu(master) if master else 0.0
        worker = self.rq_worker()
        # The worker reaps the process it forks for each job: their time is in its children's.
        roles["rq worker (with the jobs it forked)"] = (process_cpu(worker, with_children=True)
                                                        if worker else 0.0)
        scheduler = self.rq_scheduler()
        roles["rq scheduler"] = process_cpu(scheduler) if scheduler else 0.0
        server = self.redis_server()
        roles["redis-server"] = process_cpu(server) if server else 0.0
        roles["`hotline run` and the sandbox"] = process_cpu(self.run.pid) if self.run else 0.0
        roles["baseline gunicorn"] = (process_cpu(self.bare.pid) + sum(
            process_cpu(p) for p in self.bare_workers())) if self.bare else 0.0
        return snapshot(roles)

    def server_cpu(self) -> ServerCpu:
        """Readers of the CPU the hotline's web workers and Redis, and the baseline's web
        workers, have used so far (their processes as they are now)."""
        web, bare, server = self.web_workers(), self.bare_workers(), self.redis_server()
        return ServerCpu(
            hotline={"web workers": lambda: sum(process_cpu(p) for p in web),
                     "redis-server": lambda: process_cpu(server) if server else 0.0},
            bare={"web workers": lambda: sum(process_cpu(p) for p in bare)})

    def stop(self) -> list[int]:
        """Stop everything; returns the ids of processes that had to be killed."""
        if self.bare is not None and self.bare.poll() is None:
            self.bare.send_signal(signal.SIGTERM)
        if self.run is not None and self.run.poll() is None:
            self.run.send_signal(signal.SIGINT)  # what Ctrl-C does: it stops its children
        for proc in (self.bare, self.run):
            if proc is None:
                continue
            try:
                proc.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        # Anything they started and did not stop is still in their session: by id, then kill.
        sessions = [proc.pid for proc in (self.run, self.bare) if proc is not None]
        deadline = time.monotonic() + 5
        left = [p for sid in sessions for p in session(sid) if alive(p)]
        while left and time.monotonic() < deadline:
            time.sleep(0.1)
            left = [p for p in left if alive(p)]
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return left
