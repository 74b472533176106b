"""Webhook throughput and latency: four signed Twilio webhooks against the real gunicorn, each
beside the bare route answering a document of the same size, in alternating slices.

Cases (each rotates through every language, so every document size the line sends is in it):
- incoming call: POST /voice (the language menu);
- menu step: the main menu's key for a submenu;
- information item: a submenu's (or the main menu's) key for an item;
- SMS keyword reply: POST /sms, a help or topic keyword of some language.
Every request comes from a new caller with a new CallSid or MessageSid, as in real traffic (so
no per-number state is ever warm, and neither the reply limit nor the retry detection kicks in).
The baseline request for a hotline request carries the same form and headers, to
`/twiml/<size of the hotline's answer>`.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from twilio.request_validator import RequestValidator

from bench.client import Connection, LoopResult, closed_loop, http_request
from bench.machine import ServerCpu
from hotline.content.ivr import LANGUAGE_MENU, Content
from hotline.engine.voice import Position
from hotline.twilio.simulator import EXAMPLE_MOBILE
from hotline.twilio.twiml import step_url

HOST = "127.0.0.1"
ACCOUNT = "AC" + "0" * 32
CASES = ("incoming call", "menu step", "information item", "SMS keyword reply")
SMS_TARGETS = ("help", "cpas", "money", "amu", "asylum", "learning")
# Synthetic Belgian mobile numbers, one per request, +32<first + n> (they only ever reach the local
# Twilio sandbox). The voice ones never text or choose a language: none is remembered for them.
SMS_FIRST_NUMBER = 470_000_000
VOICE_FIRST_NUMBER = 480_000_000


@dataclass(frozen=True)
class Webhook:
    """One request as Twilio would make it, before signing: path and query, form fields."""

    target: str
    params: dict[str, str]


def call_params(number: str, **extra: str) -> dict[str, str]:
    """The fields Twilio posts on a voice webhook."""
    return {"CallSid": "CA" + secrets.token_hex(16), "AccountSid": ACCOUNT, "From": number,
            "To": "+3225550000", "CallStatus": "in-progress", "Direction": "inbound", **extra}


def sms_params(number: str, body: str) -> dict[str, str]:
    """The fields Twilio posts for an incoming SMS, with a new MessageSid."""
    return {"MessageSid": "SM" + secrets.token_hex(16), "AccountSid": ACCOUNT, "From": number,
            "To": "+3225550000", "Body": body, "NumMedia": "0"}


class Signer:
    """Turns webhooks into signed request bytes for one server, as Twilio signs them."""

    def __init__(self, token: str, port: int):
        self.validator = RequestValidator(token)
        self.port = port

    def signature(self, hook: Webhook) -> str:
        return self.validator.compute_signature(f"http://{HOST}:{self.port}{hook.target}",
                                                hook.params)

    def request(self, hook: Webhook, target: str | None = None, port: int | None = None) -> bytes:
        """The signed request; `target`/`port` send the same bytes elsewhere (the baseline)."""
        return http_request(HOST, port or self.port, target or hook.target, hook.params,
                            {"X-Twilio-Signature": self.signature(hook)})


def floor(hook: Webhook, size: int) -> Webhook:
    """The same request to the baseline's signed route (`bench/bare_app.py`), its query kept so
    that the HMAC covers as much; to be signed for the baseline's own URL."""
    query = hook.target.partition("?")[2]
    return Webhook(f"/signed/{size}" + (f"?{query}" if query else ""), hook.params)


def voice_variants(content: Content) -> dict[str, list[Webhook]]:
    """The voice cases, each a list of webhooks rotating through the languages (one caller and
    call for all: `Stream` gives each request its own)."""
    langs = list(content.languages)
    main = content.nodes[content.start]
    number = EXAMPLE_MOBILE
    incoming = [Webhook("/voice", call_params(number)) for _ in langs]
    menus, items = [], []
    for lang in langs:
        for option in main.options:
            target = content.nodes.get(option.goto or "")
            if target is not None and target.type == "menu":
                menus.append(Webhook(step_url(Position(main.name, lang)),
                                     call_params(number, Digits=option.digit)))
        for node in content.nodes.values():
            if node.type != "menu":
                continue
            for option in node.options:
                target = content.nodes.get(option.goto or "")
                if target is not None and target.type == "info":
                    items.append(Webhook(step_url(Position(node.name, lang)),
                                         call_params(number, Digits=option.digit)))
    return {"incoming call": incoming, "menu step": menus, "information item": items}


def sms_keywords(content_root: Path) -> list[str]:
    """The first keyword of each help and topic target in each language."""
    table = yaml.safe_load((content_root / "sms_templates" / "keywords.yaml").read_text())
    keywords = table["keywords"]
    return [words[0] for target in SMS_TARGETS for words in keywords.get(target, {}).values()]


def sms_variants(content_root: Path) -> list[Webhook]:
    """The SMS case: one message per keyword (`Stream` gives each its own texter and id)."""
    return [Webhook("/sms", sms_params(EXAMPLE_MOBILE, word))
            for word in sms_keywords(content_root)]


@dataclass
class Stream:
    """Endless webhooks of one case, its variants in turn, each from a new number (+32<first +
    n>) with a new CallSid or MessageSid, as in real traffic. Requests are signed ahead of the
    timed windows (`prepare`) so signing costs the client nothing while it measures; it signs
    on the spot only if it runs out."""

    signer: Signer
    variants: list[Webhook]
    first: int
    issued: int = 0
    ready: list[bytes] = field(default_factory=list)
    _next: int = 0

    def webhook(self, n: int) -> Webhook:
        variant = self.variants[n % len(self.variants)]
        sid = "MessageSid" if "MessageSid" in variant.params else "CallSid"
        return Webhook(variant.target, {**variant.params, "From": f"+32{self.first + n}",
                                        sid: sid[:2].upper() + secrets.token_hex(16)})

    def prepare(self, count: int) -> None:
        """Have at least `count` signed requests waiting."""
        self.ready = self.ready[self._next:]
        self._next = 0
        while len(self.ready) < count:
            self.ready.append(self.signer.request(self.webhook(self.issued)))
            self.issued += 1

    def __call__(self) -> bytes:
        if self._next < len(self.ready):
            self._next += 1
            return self.ready[self._next - 1]
        self.issued += 1
        return self.signer.request(self.webhook(self.issued - 1))


def cycle(items: list[bytes]) -> Callable[[], bytes]:
    """A request source that goes round `items`."""
    return functools.partial(next, itertools.cycle(items))


@dataclass
class Workload:
    """One case: its request source on the hotline and on the baseline."""

    name: str
    hotline: Stream  # to `prepare` ahead of each slice
    bare: Callable[[], bytes]
    signed: Callable[[], bytes]  # the baseline after reading the form and checking the signature
    sizes: list[int]
    plays: bool = False  # its answers play audio files (else <Say>)


async def _probe(port: int, requests: list[bytes], what: str) -> tuple[list[int], bool]:
    """Send each request once: their answers' sizes, and whether any plays an audio file.
    Raises when one is not a 200 TwiML document."""
    connection = Connection(HOST, port)
    sizes: list[int] = []
    plays = False
    try:
        for request in requests:
            response = await connection.send(request)
            if response.status != 200 or b"<Response" not in response.body:
                raise RuntimeError(f"{what}: answered {response.status}: "
                                   f"{response.body[:200]!r}")
            sizes.append(len(response.body))
            plays = plays or b"<Play>" in response.body
    finally:
        connection.close()
    return sizes, plays


async def workloads(content: Content, token: str, port: int, bare_port: int) -> list[Workload]:
    """The four cases, probed once (every answer must be 200 TwiML) to size the baseline."""
    signer, bare_signer = Signer(token, port), Signer(token, bare_port)

    def baselines(hooks: list[Webhook], sizes: list[int]) -> tuple[Callable[[], bytes],
                                                                   Callable[[], bytes]]:
        pairs = list(zip(hooks, sizes, strict=True))
        return (cycle([signer.request(h, f"/twiml/{size}", bare_port) for h, size in pairs]),
                cycle([bare_signer.request(floor(h, size)) for h, size in pairs]))

    cases = {**voice_variants(content), "SMS keyword reply": sms_variants(content.root)}
    out: list[Workload] = []
    for name, variants in cases.items():
        first = SMS_FIRST_NUMBER if name == "SMS keyword reply" else VOICE_FIRST_NUMBER
        stream = Stream(signer, variants, first=first + 1_000_000 * len(out))
        probes = [stream.webhook(n) for n in range(len(variants))]
        stream.issued = len(probes)
        sizes, plays = await _probe(port, [signer.request(h) for h in probes], name)
        out.append(Workload(name, stream, *baselines(probes, sizes), sizes, plays))
    return out


@dataclass
class Comparison:
    """One case measured on both servers, slice by slice."""

    name: str
    sizes: list[int]
    plays: bool = False
    hotline: LoopResult = field(default_factory=LoopResult)
    bare: LoopResult = field(default_factory=LoopResult)
    signed: LoopResult = field(default_factory=LoopResult)
    round_ratios: list[float] = field(default_factory=list)
    signed_ratios: list[float] = field(default_factory=list)  # the signed baseline's, to bare


async def compare(loads: list[Workload], port: int, bare_port: int, connections: int,
                  seconds: float, rounds: int, warmup: float,
                  progress: Callable[[str], None] = print,
                  cpu: ServerCpu | None = None) -> list[Comparison]:
    """Alternate hotline, baseline and signed baseline slices of `seconds`, `rounds` times per
    case (the order flips each round), after an untimed warm-up of each. `cpu`: the servers'
    CPU readers, read around each slice (see `ServerCpu`)."""
    results = [Comparison(load.name, load.sizes, load.plays) for load in loads]
    for load in loads:
        load.hotline.prepare(int(2000 * warmup) + 1000)
        await closed_loop(HOST, port, load.hotline, connections, warmup)
        await closed_loop(HOST, bare_port, load.bare, connections, warmup)
        await closed_loop(HOST, bare_port, load.signed, connections, warmup)
    rate = 1500.0
    for round_no in range(rounds):
        for load, result in zip(loads, results, strict=True):
            load.hotline.prepare(int(rate * seconds * 1.5) + 500)
            pair: dict[str, LoopResult] = {}
            sides: dict[str, tuple[int, Callable[[], bytes]]] = {
                "hotline": (port, load.hotline), "bare": (bare_port, load.bare),
                "signed": (bare_port, load.signed)}
            order = list(sides) if round_no % 2 == 0 else list(reversed(sides))
            for side in order:
                target_port, source = sides[side]
                readers = (cpu.hotline if side == "hotline" else cpu.bare) if cpu else None
                pair[side] = await closed_loop(HOST, target_port, source, connections, seconds,
                                               readers)
            h, b, f = pair["hotline"], pair["bare"], pair["signed"]
            result.hotline.merge(h)
            result.bare.merge(b)
            result.signed.merge(f)
            ratio = (h.ok / h.seconds) / (b.ok / b.seconds) if b.ok and h.seconds else 0.0
            result.round_ratios.append(ratio)
            result.signed_ratios.append((f.ok / f.seconds) / (b.ok / b.seconds)
                                        if b.ok and f.seconds else 0.0)
            rate = max(rate, h.ok / h.seconds if h.seconds else 0)
            progress(f"  {load.name:<20} round {round_no + 1}/{rounds}: hotline "
                     f"{h.ok / h.seconds:7.0f}/s, bare {b.ok / b.seconds:7.0f}/s, "
                     f"ratio {ratio:.2f}")
    return results


def remembers_language(content: Content, token: str, port: int) -> tuple[bool, str]:
    """Does a second call skip the language menu? Checked live: a number calls, picks the second
    language, hangs up, calls again. Returns (remembered, what the second call heard)."""
    signer = Signer(token, port)
    number = f"+32{SMS_FIRST_NUMBER - 1}"  # a synthetic number of its own
    lang = list(content.languages)[1 if len(content.languages) > 1 else 0]

    async def main() -> tuple[bool, str]:
        connection = Connection(HOST, port)
        try:
            first = await connection.send(signer.request(Webhook("/voice", call_params(number))))
            chosen = await connection.send(signer.request(Webhook(
                step_url(Position(LANGUAGE_MENU)), call_params(number, Digits="2"))))
            again = await connection.send(signer.request(Webhook("/voice", call_params(number))))
        finally:
            connection.close()
        if again.body == first.body:
            return False, "the language menu again"
        if again.body == chosen.body:
            return True, f"the welcome in {lang}, as after choosing it"
        return True, "something other than the language menu"

    return asyncio.run(main())


def run(content: Content, token: str, port: int, bare_port: int, connections: int,
        seconds: float, rounds: int, warmup: float, cpu: ServerCpu | None = None
        ) -> list[Comparison]:
    """Probe, warm up and compare every case; see `compare`."""

    async def main() -> list[Comparison]:
        loads = await workloads(content, token, port, bare_port)
        return await compare(loads, port, bare_port, connections, seconds, rounds, warmup,
                             cpu=cpu)

    return asyncio.run(main())
