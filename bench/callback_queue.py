"""The callback queue under contention: 10,000 waiting tickets across the languages, 16 mediators
taking the next one at the same time, each a process of its own with its own Redis connection
(as web workers are: one take is one round trip, a Lua script). Each queue counts its events as
the console's does (taken, and how long a ticket waited: in the take's own script).

Then, for reference, one taker alone over 1,000 more tickets: the uncontended cost; and what a
take costs in CPU (the takers' own, from their rusage; Redis's, from its INFO) next to a bare
round trip on the same server (PING, a read, a write).
Runs against a Redis server of its own (an `EmbeddedRedis`, started with the settings `hotline
run` uses) so that the stack's data and maintenance job are untouched. Checks that every ticket
was taken exactly once, by the mediator whose claim it holds.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import resource
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

from hotline.callbacks.queue import CallbackQueue
from hotline.state.client import TextRedis
from hotline.state.events import Events
from hotline.state.privacy import Privacy
from hotline.state.store import EmbeddedRedis

# Share of the tickets per language, and the languages of each of the 16 mediators: some speak
# one, some two, one speaks all four; every language has several.
LANGUAGE_SHARES = {"fr": 0.35, "ar": 0.30, "nl": 0.20, "en": 0.15}
MEDIATOR_LANGUAGES = [["fr"], ["fr"], ["ar"], ["ar"], ["nl"], ["en"], ["fr", "ar"], ["fr", "ar"],
                      ["nl", "fr"], ["nl", "en"], ["en", "ar"], ["fr", "en"], ["ar", "nl"],
                      ["fr", "nl", "en", "ar"], ["ar"], ["fr"]]


@dataclass
class QueueResult:
    tickets: int
    takers: int
    fill_seconds: float
    take_seconds: float
    latencies: list[float] = field(default_factory=list)  # one per successful take_next
    taken: int = 0
    distinct: int = 0
    missing: int = 0
    duplicates: int = 0
    wrong_claims: int = 0
    left_waiting: int = 0
    server_usec: dict[str, float] = field(default_factory=dict)  # Redis's own time per command
    alone: list[float] = field(default_factory=list)  # take_next with one taker, no contention
    per_language: dict[str, int] = field(default_factory=dict)
    taker_cpu_seconds: float = 0.0  # the takers' CPU (user + system) over their takes, in all
    redis_cpu_seconds: float = 0.0  # the Redis server's over the same time
    cores: int = 0  # the cores the takers and Redis shared
    # a bare round trip from one process: name -> (median µs, CPU µs of the caller per call)
    round_trips: dict[str, tuple[float, float]] = field(default_factory=dict)

    @property
    def exactly_once(self) -> bool:
        return (self.taken == self.tickets == self.distinct and not self.missing
                and not self.duplicates and not self.wrong_claims and not self.left_waiting)


def _queue(url: str) -> CallbackQueue:
    """A queue as the console's: its own connection, its events counted."""
    connection = TextRedis.connect(url)
    return CallbackQueue(connection, events=Events(connection))


def run(workdir: Path, tickets: int = 10_000, takers: int = 16, seed: int = 7) -> QueueResult:
    """Fill the queues, let `takers` processes empty them, check the outcome."""
    rng = random.Random(seed)
    with EmbeddedRedis(workdir / "queue-redis") as server:
        queue = _queue(server.url)
        client = queue.r
        privacy = Privacy(b"bench-secret-key-for-numbers-0123")
        langs = list(LANGUAGE_SHARES)
        created: dict[str, str] = {}
        started = time.perf_counter()
        for i in range(tickets):
            lang = rng.choices(langs, weights=list(LANGUAGE_SHARES.values()))[0]
            number = f"+32{470_000_000 + i}"
            ref, joined = queue.request(privacy.number_key(number), privacy.encrypt(number),
                                        lang, "cpas")
            if joined:
                raise RuntimeError(f"ticket {i} joined {ref}: numbers must differ")
            created[ref] = lang
        fill = time.perf_counter() - started
        client.config_resetstat()

        context = multiprocessing.get_context("fork")  # forked, as gunicorn forks its workers
        barrier = context.Barrier(takers + 1)
        results = context.Queue()
        processes = [context.Process(target=_taker, args=(server.url, i, barrier, results))
                     for i in range(takers)]
        try:
            for process in processes:
                process.start()
            redis_cpu = _cpu_of_redis(client)
            barrier.wait(timeout=120)  # every taker connected and ready
            started = time.perf_counter()
            outcomes = [results.get(timeout=300) for _ in processes]
            take_seconds = time.perf_counter() - started
            redis_cpu = _cpu_of_redis(client) - redis_cpu
        finally:
            for process in processes:
                if process.pid is None:
                    continue
                process.join(timeout=30)
                if process.is_alive():
                    process.kill()
        errors = [error for _, _, error, _ in outcomes if error]
        if errors:
            raise RuntimeError(f"a taker failed: {errors[0]}")
        latencies = [per for per, _, _, _ in outcomes]
        taken = [mine for _, mine, _, _ in outcomes]

        result = QueueResult(tickets, takers, fill, take_seconds,
                             [x for per in latencies for x in per])
        result.taker_cpu_seconds = sum(cpu for _, _, _, cpu in outcomes)
        result.redis_cpu_seconds = redis_cpu
        result.cores = len(os.sched_getaffinity(0))
        flat = [t for per in taken for t in per]
        refs = [ref for ref, _, _ in flat]
        result.taken, result.distinct = len(refs), len(set(refs))
        result.duplicates = len(refs) - len(set(refs))
        result.missing = len(set(created) - set(refs))
        pipe = client.pipeline()
        for ref, _, _ in flat:
            pipe.hmget(f"cb:ticket:{ref}", "status", "mediator")
        for (_ref, mediator, _), (status, holder) in zip(flat, pipe.execute(), strict=True):
            if status != "claimed" or (holder or "") != mediator:
                result.wrong_claims += 1
        result.left_waiting = sum(int(client.zcard(f"cb:queue:{lang}")) for lang in langs)
        for _, _, lang in flat:
            result.per_language[lang] = result.per_language.get(lang, 0) + 1
        stats = client.info("commandstats")
        for name in ("evalsha", "hgetall"):
            entry = stats.get(f"cmdstat_{name}")
            if entry:
                result.server_usec[name] = float(entry["usec_per_call"])
        result.alone = _alone(queue, privacy, langs, 1000)
        result.round_trips = _round_trips(client)
        client.close()
    return result


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _cpu_of_redis(client: TextRedis) -> float:
    """The Redis server's CPU seconds so far (user + system, all its threads)."""
    cpu = client.info("cpu")
    return float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"])


def _round_trips(client: TextRedis, count: int = 2000) -> dict[str, tuple[float, float]]:
    """A bare round trip from this process: PING, a read (GET), a write (SET: Redis also appends
    it to its append-only file before it answers); median µs and this process's CPU µs per call."""
    calls = {"PING": lambda i: client.ping(), "GET": lambda i: client.get(f"bench:rt:{i}"),
             "SET": lambda i: client.set(f"bench:rt:{i}", "x", ex=60)}
    out = {}
    for name, call in calls.items():
        times = []
        cpu = _cpu_seconds()
        for i in range(count):
            t0 = time.perf_counter()
            call(i)
            times.append(time.perf_counter() - t0)
        cpu = _cpu_seconds() - cpu
        out[name] = (statistics.median(times) * 1e6, cpu / count * 1e6)
    return out


def _taker(url: str, index: int, barrier: object, results: object) -> None:
    """One mediator's process: take until nothing is left; puts (latencies, taken, error, the
    CPU seconds its takes used)."""
    latencies: list[float] = []
    taken: list[tuple[str, str, str]] = []
    error = ""
    cpu = 0.0
    try:
        own = _queue(url)
        mediator = f"mediator{index:02d}"
        mine = MEDIATOR_LANGUAGES[index % len(MEDIATOR_LANGUAGES)]
        own.r.ping()
        barrier.wait(timeout=120)  # type: ignore[attr-defined]
        cpu = _cpu_seconds()
        while True:
            t0 = time.perf_counter()
            ticket = own.take_next(mediator, mine)
            elapsed = time.perf_counter() - t0
            if ticket is None:
                break
            latencies.append(elapsed)
            taken.append((ticket.ref, mediator, ticket.lang))
        cpu = _cpu_seconds() - cpu
    except BaseException as exc:  # reported by the parent, never lost in a child
        error = f"{type(exc).__name__}: {exc}"
    results.put((latencies, taken, error, cpu))  # type: ignore[attr-defined]


def _alone(queue: CallbackQueue, privacy: Privacy, langs: list[str], count: int) -> list[float]:
    """take_next latencies of a single taker over `count` fresh tickets: the uncontended cost."""
    for i in range(count):
        number = f"+32{480_000_000 + i}"
        queue.request(privacy.number_key(number), privacy.encrypt(number), langs[i % len(langs)],
                      "cpas")
    latencies: list[float] = []
    while True:
        t0 = time.perf_counter()
        ticket = queue.take_next("alone", langs)
        if ticket is None:
            return latencies
        latencies.append(time.perf_counter() - t0)
