"""A small HTTP/1.1 client on asyncio, cheap enough not to be the bottleneck.

Requests are prepared as bytes beforehand (`http_request`). A `Connection` keeps its socket
between requests when the server allows it and opens a new one when the server answers
`Connection: close` (gunicorn's sync workers always do). `closed_loop` keeps N connections busy
for a fixed time and records every request's latency, connect time included.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlencode

import numpy

TIMEOUT_SECONDS = 10.0


def http_request(host: str, port: int, target: str, params: dict[str, str],
                 headers: dict[str, str] | None = None) -> bytes:
    """A form POST of `params` to `target` (path and query), as bytes ready to write."""
    body = urlencode(params).encode()
    lines = [f"POST {target} HTTP/1.1", f"Host: {host}:{port}", "Connection: keep-alive",
             "Content-Type: application/x-www-form-urlencoded", f"Content-Length: {len(body)}",
             "User-Agent: hotline-bench", *(f"{k}: {v}" for k, v in (headers or {}).items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    seconds: float  # from the connect (or the first byte written) to the last byte read


class Connection:
    """One client connection to host:port, reopened whenever the server closes it.

    Plain non-blocking sockets driven by the event loop (`sock_connect`, `sock_recv`): a third
    of the CPU that asyncio's streams spend per request, which matters when the client shares
    two cores with the server."""

    def __init__(self, host: str, port: int, timeout: float = TIMEOUT_SECONDS):
        self.address = (host, port)
        self.timeout = timeout
        self.sock: socket.socket | None = None

    async def send(self, request: bytes) -> Response:
        """Write `request`, read the whole answer. Raises OSError (ConnectionError when the
        server hangs up mid-answer) or TimeoutError."""
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        reused = self.sock is not None
        async with asyncio.timeout(self.timeout):
            try:
                return await self._exchange(loop, request, started)
            except OSError:
                self.close()
                if not reused:
                    raise
            # A kept-alive socket the server had closed meanwhile: once more, on a new one.
            return await self._exchange(loop, request, started)

    async def _exchange(self, loop: asyncio.AbstractEventLoop, request: bytes,
                        started: float) -> Response:
        if self.sock is None:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                await loop.sock_connect(sock, self.address)
            except BaseException:
                sock.close()
                raise
            self.sock = sock
        sock = self.sock
        await loop.sock_sendall(sock, request)
        buffer = b""
        head_end, length, close, status = -1, -1, False, 0
        while True:
            data = await loop.sock_recv(sock, 65536)
            if not data:
                if head_end >= 0 and length < 0:  # no Content-Length: the body ends with EOF
                    break
                raise ConnectionError("the server closed the connection mid-answer")
            buffer += data
            if head_end < 0:
                head_end = buffer.find(b"\r\n\r\n")
                if head_end < 0:
                    continue
                head = buffer[:head_end + 2].lower()
                status = int(buffer[9:12])
                close = b"\r\nconnection: close" in head or buffer.startswith(b"HTTP/1.0")
                at = head.find(b"\r\ncontent-length:")
                if at >= 0:
                    length = int(head[at + 17:head.index(b"\r\n", at + 2)])
                else:
                    close = True
            if length >= 0 and len(buffer) >= head_end + 4 + length:
                break
        body = buffer[head_end + 4:] if length < 0 else buffer[head_end + 4:head_end + 4 + length]
        seconds = time.perf_counter() - started
        if close:
            self.close()
        return Response(status, body, seconds)

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock = None


@dataclass
class LoopResult:
    """What a closed loop measured: latencies of answered requests (seconds), failures."""

    seconds: float = 0.0
    cpu_seconds: float = 0.0  # this process's CPU time during the loop: the client's cost
    # the CPU seconds of the processes the caller asked about (see `closed_loop`), by name
    server_cpu: dict[str, float] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)

    @property
    def ok(self) -> int:
        return self.statuses.get(200, 0)

    @property
    def errors(self) -> int:
        return self.statuses.total() - self.ok + self.failures.total()

    def merge(self, other: LoopResult) -> None:
        self.seconds += other.seconds
        self.cpu_seconds += other.cpu_seconds
        for name, used in other.server_cpu.items():
            self.server_cpu[name] = self.server_cpu.get(name, 0.0) + used
        self.latencies += other.latencies
        self.statuses.update(other.statuses)
        self.failures.update(other.failures)


async def closed_loop(host: str, port: int, next_request: Callable[[], bytes],
                      connections: int, seconds: float,
                      cpu_readers: Mapping[str, Callable[[], float]] | None = None) -> LoopResult:
    """Keep `connections` connections each sending one request after another for `seconds`.
    `cpu_readers`: name -> the CPU seconds some processes have used so far (the server's), read
    before and after the loop into `server_cpu`."""
    result = LoopResult()
    readers = cpu_readers or {}
    server_before = {name: read() for name, read in readers.items()}
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        connection = Connection(host, port)
        latencies, statuses = result.latencies, result.statuses
        while time.perf_counter() < deadline:
            try:
                response = await connection.send(next_request())
            except (OSError, TimeoutError) as exc:
                result.failures[type(exc).__name__] += 1
                connection.close()
                continue
            latencies.append(response.seconds)
            statuses[response.status] += 1
        connection.close()

    cpu, started = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    result.seconds = time.perf_counter() - started
    result.cpu_seconds = time.process_time() - cpu
    result.server_cpu = {name: read() - server_before[name] for name, read in readers.items()}
    return result


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile of `values` by nearest rank (the smallest value with at least p % of
    them at or below it: numpy's "inverted_cdf"); 0.0 when there are none."""
    return float(numpy.percentile(values, p, method="inverted_cdf")) if values else 0.0
