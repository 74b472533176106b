"""Load: simulated callers walking the voice line and texters sending keywords, against the real
stack, then the RQ queue draining what they asked for.

A caller dials (a new CallSid, a random Belgian mobile number), follows the TwiML as Twilio does
(`<Gather action>` with their key, `<Redirect>` after silence, `<Record>` then its action, the
recording status callback, `<Hangup>`), thinks 0.5-2 s before each key, and picks: mostly a key
the line offers at that position (on an item, often 2: the item by SMS, which queues an RQ job
for the Twilio sandbox; sometimes 0: a callback request, whose confirmation SMS is a job too),
sometimes a wrong key, sometimes silence; now and then they hang up mid-call. Texters send a
keyword of any language, then menu numbers, keywords with a typo, LANGUAGE or STOP, each number
for a few messages (so the per-number reply limit is never reached).

An error is a request that failed or was answered with anything but a 200 TwiML document that a
phone could follow (the recording status callback: anything but its 204).
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import redis
from rq import Queue
from rq.job import Job
from rq.registry import (
    FailedJobRegistry,
    FinishedJobRegistry,
    ScheduledJobRegistry,
    StartedJobRegistry,
)

from bench.client import Connection
from bench.webhooks import HOST, Signer, Webhook, call_params, sms_keywords, sms_params
from hotline.callbacks.outbox import QUEUE
from hotline.content.ivr import LANGUAGE_MENU, Content

KEYS = "0123456789*#"
MAINTENANCE_JOB = "hotline-maintenance"  # the prefix of its job ids (workers/clock.py)


@dataclass
class LoadResult:
    seconds: float = 0.0
    latencies: defaultdict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: Counter[str] = field(default_factory=Counter)            # by reason
    calls: int = 0
    line_hung_up: int = 0
    caller_hung_up: int = 0
    steps: int = 0
    texts: int = 0
    texts_unanswered: int = 0
    sms_asked: set[tuple[str, str]] = field(default_factory=set)  # (CallSid, item) pressed 2
    tickets: int = 0
    recordings: int = 0
    queue_max: int = 0
    queue_at_end: int = 0
    drain_seconds: float | None = None
    jobs_finished: int = 0
    jobs_failed: int = 0
    jobs_waiting_after: int = 0
    drain_waited: float = 0.0
    drain_rate: float = 0.0  # jobs finished per second while draining
    job_seconds: list[float] = field(default_factory=list)  # started -> ended, finished jobs
    sandbox_sms: int = 0

    def record(self, kind: str, seconds: float) -> None:
        self.latencies[kind].append(seconds)

    def error(self, reason: str) -> None:
        self.errors[reason] += 1

    @property
    def all_latencies(self) -> list[float]:
        return [x for values in self.latencies.values() for x in values]


@dataclass(frozen=True)
class Document:
    """What a phone needs from a voice TwiML answer."""

    gather: str | None = None
    number_input: bool = False
    redirect: str | None = None
    record: str | None = None
    record_status: str | None = None
    hangup: bool = False


def parse(body: bytes) -> Document:
    """Read a voice answer; raises ValueError when it is no TwiML a phone can follow."""
    root = ET.fromstring(body)
    if root.tag != "Response":
        raise ValueError(f"root <{root.tag}>")
    found: dict[str, object] = {}
    for verb in root:
        if verb.tag == "Gather":
            found["gather"] = verb.get("action")
            found["number_input"] = verb.get("numDigits") is None
        elif verb.tag == "Record":
            found["record"] = verb.get("action")
            found["record_status"] = verb.get("recordingStatusCallback")
        elif verb.tag == "Redirect":
            found["redirect"] = (verb.text or "").strip()
            break
        elif verb.tag == "Hangup":
            found["hangup"] = True
            break
    document = Document(**found)  # type: ignore[arg-type]
    if not (document.gather or document.redirect or document.record or document.hangup):
        raise ValueError("no way forward")
    return document


async def pause(seconds: float, deadline: float) -> bool:
    """Sleep `seconds`, but not past `deadline`; False when the deadline has come."""
    left = deadline - time.perf_counter()
    await asyncio.sleep(max(0.0, min(seconds, left)))
    return seconds < left


class Line:
    """Signed requests to the stack, each timed and checked into a LoadResult."""

    def __init__(self, signer: Signer, result: LoadResult):
        self.signer, self.result = signer, result

    async def post(self, connection: Connection, kind: str, hook: Webhook) -> bytes | None:
        """The answer's body, or None after recording why it failed."""
        try:
            response = await connection.send(self.signer.request(hook))
        except (OSError, TimeoutError) as exc:
            connection.close()
            self.result.error(f"{kind}: {type(exc).__name__}")
            return None
        self.result.record(kind, response.seconds)
        if response.status != (204 if kind == "recording" else 200):
            self.result.error(f"{kind}: HTTP {response.status}")
            return None
        return response.body


class Caller:
    """One simulated caller making call after call until the deadline."""

    def __init__(self, line: Line, content: Content, rng: random.Random, deadline: float):
        self.line, self.content, self.rng, self.deadline = line, content, rng, deadline
        self.result = line.result

    async def run(self, ramp: float) -> None:
        await asyncio.sleep(self.rng.uniform(0, ramp))
        while time.perf_counter() < self.deadline:
            await self.call()
            await pause(self.rng.uniform(0.5, 2.0), self.deadline)

    async def call(self) -> None:
        rng, result = self.rng, self.result
        number = f"+324{rng.randint(90_000_000, 99_999_999)}"
        base = call_params(number)
        connection = Connection(HOST, self.line.signer.port)
        result.calls += 1
        target, extra = "/voice", dict[str, str]()
        try:
            for _ in range(60):
                body = await self.line.post(connection, "voice", Webhook(target, {**base, **extra}))
                result.steps += 1
                if body is None:
                    return
                try:
                    document = parse(body)
                except (ET.ParseError, ValueError) as exc:
                    result.error(f"voice: not TwiML a phone can follow ({exc})")
                    return
                if document.hangup:
                    result.line_hung_up += 1
                    return
                if not await pause(rng.uniform(0.5, 2.0), self.deadline) or rng.random() < 0.03:
                    result.caller_hung_up += 1
                    return
                target, extra = await self.next_move(connection, document, base)
            result.caller_hung_up += 1
        finally:
            connection.close()

    async def next_move(self, connection: Connection, document: Document,
                        base: dict[str, str]) -> tuple[str, dict[str, str]]:
        """Where the phone posts next, and what it adds to the call's fields."""
        rng = self.rng
        if document.record:
            self.result.tickets += 1
            if rng.random() < 0.6 and document.record_status:  # they leave a message
                sid = f"RE{rng.getrandbits(128):032x}"
                url = f"https://api.twilio.com/2010-04-01/Accounts/x/Recordings/{sid}"
                await self.line.post(connection, "recording", Webhook(document.record_status, {
                    **base, "RecordingSid": sid, "RecordingUrl": url,
                    "RecordingStatus": "completed", "RecordingDuration": "7"}))
                self.result.recordings += 1
                return document.record, {"RecordingSid": sid, "RecordingUrl": url,
                                         "RecordingDuration": "7", "Digits": "#"}
            return document.redirect or document.record, {}
        if not document.gather or rng.random() < 0.10:  # silence: the Gather times out
            return document.redirect or document.gather or "/voice", {}
        if document.number_input:
            typed = f"04{rng.randint(70, 99)}{rng.randint(0, 999_999):06d}"
            return document.gather, {"Digits": typed if rng.random() < 0.8 else "123"}
        node, offered = self.offered(document.gather)
        if offered and rng.random() < 0.87:
            if "2" in offered and self.content.nodes.get(node, None) is not None \
                    and self.content.nodes[node].type == "info" and rng.random() < 0.35:
                key = "2"
            else:
                key = rng.choice(offered)
        else:
            key = rng.choice([k for k in KEYS if k not in offered] or list(KEYS))
        if key == "2" and node in self.content.nodes and self.content.nodes[node].type == "info":
            self.result.sms_asked.add((base["CallSid"], node))
        return document.gather, {"Digits": key}

    def offered(self, action: str) -> tuple[str, list[str]]:
        """The node a Gather listens at, and the keys the line offers there."""
        query = parse_qs(urlsplit(action).query)
        node = query.get("node", [""])[0]
        content = self.content
        if node == LANGUAGE_MENU:
            return node, [str(i) for i in range(1, len(content.languages) + 1)]
        name, _, step = node.partition(".")
        found = content.nodes.get(name)
        if found is None:
            return node, []
        if not step:
            return node, [o.digit for o in content.options_of(found)]
        return node, {"confirm": ["1", "2"], "typed": ["1", "2"], "done": ["1", "9"],
                      "topic": [o.digit for o in found.options]}.get(step, [])


class Texter:
    """One simulated texter: a few messages from a number, then another number."""

    def __init__(self, line: Line, keywords: list[str], numbers: Callable[[], str],
                 rng: random.Random, deadline: float):
        self.line, self.keywords, self.numbers = line, keywords, numbers
        self.rng, self.deadline = rng, deadline

    def body(self, first: bool) -> str:
        rng, word = self.rng, self.rng.choice(self.keywords)
        roll = rng.random()
        if first or roll < 0.30:
            return word
        if roll < 0.75:
            return str(rng.randint(1, 6))
        if roll < 0.87 and len(word) > 4:  # one letter wrong: the matcher forgives it
            at = rng.randrange(1, len(word))
            return word[:at] + word[at - 1] + word[at + 1:]
        return rng.choice(["LANGUE", "TAAL 3", "LANGUAGE", "STOP", "START", word])

    async def run(self, ramp: float) -> None:
        rng, result = self.rng, self.line.result
        await asyncio.sleep(rng.uniform(0, ramp))
        while time.perf_counter() < self.deadline:
            number = self.numbers()
            connection = Connection(HOST, self.line.signer.port)
            stopped = False
            for i in range(rng.randint(1, 6)):
                if time.perf_counter() >= self.deadline:
                    break
                body = self.body(first=i == 0)
                answer = await self.line.post(connection, "sms", Webhook("/sms",
                                                                         sms_params(number, body)))
                result.texts += 1
                if answer is not None:
                    try:
                        root = ET.fromstring(answer)
                        if root.tag != "Response":
                            raise ValueError(root.tag)
                        if not list(root.iter("Message")) and not stopped:
                            result.texts_unanswered += 1
                    except (ET.ParseError, ValueError):
                        result.error("sms: not messaging TwiML")
                stopped = stopped or body == "STOP"
                if not await pause(rng.uniform(1.0, 4.0), self.deadline):
                    break
            connection.close()


def queue_state(client: redis.Redis) -> tuple[int, int, int]:
    """(jobs queued, jobs running, retries scheduled) on the hotline queue."""
    queue = Queue(QUEUE, connection=client)
    scheduled = ScheduledJobRegistry(queue=queue).count  # retries (maintenance is never scheduled)
    return queue.count, StartedJobRegistry(queue=queue).count, scheduled


def run(content: Content, token: str, port: int, redis_url: str, callers: int, texters: int,
        seconds: float, seed: int = 11) -> LoadResult:
    """Run the load for `seconds`; the callers' and texters' figures (see `drain` next)."""
    result = LoadResult()
    signer = Signer(token, port)
    line = Line(signer, result)
    client = redis.Redis.from_url(redis_url)
    keywords = sms_keywords(content.root)
    counter = itertools.count()

    def numbers() -> str:
        return f"+324{80_000_000 + next(counter)}"

    async def sample_queue(deadline: float) -> None:
        while time.perf_counter() < deadline:
            queued, running, _ = queue_state(client)
            result.queue_max = max(result.queue_max, queued + running)
            await asyncio.sleep(1)

    async def main() -> None:
        rng = random.Random(seed)
        started = time.perf_counter()
        deadline = started + seconds
        ramp = min(2.0, seconds / 4)
        tasks = [Caller(line, content, random.Random(rng.random()), deadline).run(ramp)
                 for _ in range(callers)]
        tasks += [Texter(line, keywords, numbers, random.Random(rng.random()), deadline).run(ramp)
                  for _ in range(texters)]
        tasks.append(sample_queue(deadline))
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=seconds + 30)
        result.seconds = time.perf_counter() - started

    asyncio.run(main())
    client.close()
    return result


def drain(result: LoadResult, redis_url: str, sandbox_count: Callable[[], int],
          timeout: float = 60, progress: Callable[[str], None] = print) -> None:
    """Wait (at most `timeout`) for the RQ queue to empty; record the jobs' figures and the SMS
    the sandbox received."""
    client = redis.Redis.from_url(redis_url)
    queue = Queue(QUEUE, connection=client)
    queued, running, retrying = queue_state(client)
    result.queue_at_end = queued + running
    progress(f"  load done: {result.steps + result.texts} requests, {sum(result.errors.values())} "
             f"errors; queue at the end: {queued} queued, {running} running")
    finished_before = FinishedJobRegistry(queue=queue).count
    started = time.perf_counter()
    while True:
        queued, running, retrying = queue_state(client)
        if queued + running + retrying == 0:
            result.drain_seconds = time.perf_counter() - started
            break
        if time.perf_counter() - started > timeout:
            break
        time.sleep(0.1)
    result.drain_waited = time.perf_counter() - started
    result.jobs_waiting_after = queued + running + retrying
    result.jobs_finished = FinishedJobRegistry(queue=queue).count
    result.jobs_failed = FailedJobRegistry(queue=queue).count
    result.drain_rate = (result.jobs_finished - finished_before) / max(result.drain_waited, 1e-9)
    ids = FinishedJobRegistry(queue=queue).get_job_ids()
    for job in Job.fetch_many(ids, connection=client):
        if (job is not None and not job.id.startswith(MAINTENANCE_JOB) and job.started_at
                and job.ended_at):
            result.job_seconds.append((job.ended_at - job.started_at).total_seconds())
    expected = len(result.sms_asked) + result.tickets
    wait_until = time.perf_counter() + 5  # the sandbox prints as it receives: let it catch up
    while (result.drain_seconds is not None and sandbox_count() < expected
           and time.perf_counter() < wait_until):
        time.sleep(0.1)
    result.sandbox_sms = sandbox_count()
    client.close()
