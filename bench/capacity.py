"""Capacity: how many simultaneous calls one core of web process holds, and how the line scales
with 1, 2 and 4 web processes sharing the stack's one Redis.

For each count, a gunicorn of its own runs the hotline app with the stack's environment (copied
from `/proc/<pid>/environ` of the stack's gunicorn: the same Redis, keys and audio cache) and
its command line (only `--bind` and `--workers` changed). A closed loop of `connections` keeps
it saturated with a call's requests (incoming calls, menu steps and information items in turn,
signed, the signature checked) for `seconds`; the CPU seconds its workers and the Redis server
used in that time are read from /proc. A call makes one request per ~10 s of audio heard
(CALL_REQUEST_SECONDS), so a core that answers R requests per CPU-second holds R × 10 calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from bench.client import closed_loop, percentile
from bench.machine import machine_busy, process_cpu
from bench.stack import PROJECT_ROOT, Stack, children, cmdline, session, wait_http
from bench.webhooks import HOST, Signer, Stream, voice_variants
from hotline.content.ivr import Content
from hotline.state.store import free_port

CALL_REQUEST_SECONDS = 10.0  # a caller's request every ~10 s of audio (issue 15)
VOICE_CASES = ("incoming call", "menu step", "information item")
PROCESSES = (1, 2, 4)


@dataclass
class CapacityRun:
    """One web-process count, saturated."""

    processes: int
    seconds: float
    requests: int
    errors: int
    p99: float  # seconds
    web_cpu: float  # CPU seconds of its workers
    redis_cpu: float  # CPU seconds of the Redis server
    machine_cpu: float  # busy CPU seconds of the whole machine

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def per_core_second(self) -> float:
        """Requests answered per CPU-second of web process."""
        return self.requests / self.web_cpu if self.web_cpu else 0.0

    @property
    def calls_held(self) -> float:
        """Simultaneous calls this run's throughput holds."""
        return self.per_second * CALL_REQUEST_SECONDS

    @property
    def calls_per_core(self) -> float:
        return self.per_core_second * CALL_REQUEST_SECONDS

    @property
    def redis_usec(self) -> float:
        """Redis CPU per request, µs."""
        return self.redis_cpu / self.requests * 1e6 if self.requests else 0.0


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def _command(hotline_gunicorn: list[str], port: int, processes: int) -> list[str]:
    command = list(hotline_gunicorn)
    command[command.index("--bind") + 1] = f"{HOST}:{port}"
    if "--workers" in command:
        command[command.index("--workers") + 1] = str(processes)
    else:
        command[1:1] = ["--workers", str(processes)]
    return command


def run(stack: Stack, content: Content, token: str, connections: int, seconds: float,
        progress: object = print) -> tuple[list[CapacityRun], list[str]]:
    """Measure each of PROCESSES; returns the runs and the command lines used."""
    master = stack.gunicorn_master()
    redis_pid = stack.redis_server()
    if master is None or redis_pid is None:
        raise RuntimeError("the stack has no gunicorn or no Redis server")
    base, env = cmdline(master), _environ(master)
    runs, commands = [], []
    for processes in PROCESSES:
        port = free_port()
        command = _command(base, port, processes)
        commands.append(" ".join(command))
        server = subprocess.Popen(command, env=env, cwd=PROJECT_ROOT, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  start_new_session=True)
        try:
            deadline = time.monotonic() + 60
            while len(children(server.pid)) < processes:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"gunicorn with {processes} workers did not start")
                time.sleep(0.2)
            wait_http(f"http://{HOST}:{port}/healthz", 60)
            runs.append(_measure(server.pid, redis_pid, content, token, port, processes,
                                 connections, seconds))
            progress(f"  {processes} web process(es): {runs[-1].per_second:,.0f} req/s, "  # type: ignore[operator]
                     f"{runs[-1].per_core_second:,.0f} per core-second")
        finally:
            _stop(server)
    return runs, commands


def _measure(master: int, redis_pid: int, content: Content, token: str, port: int,
             processes: int, connections: int, seconds: float) -> CapacityRun:
    variants = voice_variants(content)
    # each request a new caller and call, signed ahead; numbers of their own per server
    source = Stream(Signer(token, port), [h for name in VOICE_CASES for h in variants[name]],
                    first=460_000_000 + 1_000_000 * processes)
    source.prepare(int(3000 * (seconds + 0.5)))
    asyncio.run(closed_loop(HOST, port, source, connections, 0.5))  # warm-up, untimed
    workers = children(master)
    web0 = sum(process_cpu(p) for p in workers)
    redis0, machine0 = process_cpu(redis_pid), machine_busy()
    result = asyncio.run(closed_loop(HOST, port, source, connections, seconds))
    web = sum(process_cpu(p) for p in workers) - web0
    p99 = percentile(result.latencies, 99)
    return CapacityRun(processes, result.seconds, result.ok, result.errors, p99, web,
                       process_cpu(redis_pid) - redis0, machine_busy() - machine0)


def _stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
    for pid in session(server.pid):  # a worker left behind: by id
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
