"""Where the time goes, measured: cProfile of the webhook path, and of one RQ job run cold (in a
fresh process, as a plain `rq worker`'s forked process would run it).

Webhooks: the hotline app is built in this process with the stack's settings (its Redis, its
secrets, its audio cache) and called through WSGI directly, with the same signed requests the
HTTP bench sends; so is the bare app, for the cost of Flask itself. No HTTP server is involved:
what remains between these figures and the HTTP ones is gunicorn, the sockets and the client.

The RQ job: a plain `rq worker` forks a process for every job, which imports the job's module and
builds its services before it sends (`hotline worker` does that once, before forking). A
subprocess does exactly that, timed in phases, plus `python -X importtime` for the heaviest
imports.
"""

from __future__ import annotations

import cProfile
import importlib
import io
import json
import os
import pstats
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from werkzeug.test import EnvironBuilder

from bench.stack import PROJECT_ROOT
from bench.webhooks import (
    HOST,
    Signer,
    Stream,
    Webhook,
    floor,
    sms_variants,
    voice_variants,
)
from hotline.content.ivr import Content
from hotline.settings import Settings

SITE = str(Path(os.__file__).parent)


@dataclass
class Hotspot:
    where: str
    calls_per_request: float
    cumulative_us: float  # per request
    own_us: float         # per request
    share: float          # of the request's time


@dataclass
class CaseProfile:
    case: str
    hotline_us: float  # per request, in-process, no profiler
    bare_us: float
    signed_us: float  # the bare route after reading the form and checking the signature
    parts: list[tuple[str, float]] = field(default_factory=list)  # (component, share)
    hotspots: list[Hotspot] = field(default_factory=list)  # by cumulative time
    own: list[Hotspot] = field(default_factory=list)       # by own time


# The components of a webhook request, each the cumulative time of the functions named
# (module, function names): the module is imported to find its file, so a module that moved
# fails the profile phase instead of silently counting nothing. Indented ones are part of the
# one above.
COMPONENTS = [
    ("signature check (reads the form, HMAC-SHA1)", "hotline.twilio.signatures",
     ("is_signed_by_twilio",)),
    ("Redis round trips (each command or pipeline)", "redis.client",
     ("execute_command", "execute")),
    ("caller details (phone number parsing, opening hours)", "hotline.twilio.voice",
     ("_caller",)),
    ("voice engine (what to say next)", "hotline.engine.voice", ("incoming", "respond")),
    ("SMS engine (keyword matching, reply)", "hotline.engine.sms", ("reply",)),
    ("TwiML rendering, in all", "hotline.twilio.twiml", ("render",)),
    ("  of which audio lookup (manifest stat, text hash)", "hotline.audio.library", ("find",)),
    ("  of which url_for for each audio file", "flask.helpers", ("url_for",)),
    ("  of which XML building and serialisation (twilio.twiml)", "twilio.twiml", ("to_xml",)),
    ("SMS TwiML (twilio.twiml MessagingResponse)", "twilio.twiml", ("__str__",)),
]
VIEW = ("hotline.twilio.signatures", "checked")   # the decorated view: everything the app does
WHOLE = ("flask.app", "wsgi_app")


def components(profile: cProfile.Profile) -> list[tuple[str, float]]:
    """Each component's share of a request's time (see COMPONENTS), then Flask and Werkzeug
    around the view; components under 1 % are left out."""
    stats = pstats.Stats(profile, stream=io.StringIO()).stats  # type: ignore[attr-defined]

    def cumulative(module: str, names: tuple[str, ...]) -> float:
        path = importlib.import_module(module).__file__
        return sum(ct for (file, _, func), (_, _, _, ct, _) in stats.items()
                   if func in names and file == path)

    whole = cumulative(WHOLE[0], (WHOLE[1],)) or 1.0
    parts = [(label, cumulative(module, names) / whole) for label, module, names in COMPONENTS]
    if any(label.startswith("SMS engine") and share for label, share in parts):
        parts = [(label, share) for label, share in parts if not label.startswith("  of which XML")]
    else:
        parts = [(label, share) for label, share in parts if not label.startswith("SMS TwiML")]
    parts.append(("Flask and Werkzeug around the view (request, routing, response)",
                  1 - cumulative(VIEW[0], (VIEW[1],)) / whole))
    return [(label, share) for label, share in parts if share >= 0.01]


def _name(key: tuple[str, int, str]) -> str:
    file, line, func = key
    if file == "~":
        return func  # a builtin, e.g. {method 'recv_into' of '_socket.socket' objects}
    path = Path(file)
    for marker in ("site-packages", "hotline", "workers", "bench"):
        if marker in path.parts:
            at = path.parts.index(marker)
            rest = path.parts[at + 1:] if marker == "site-packages" else path.parts[at:]
            return f"{'/'.join(rest)}:{line} {func}"
    if file.startswith(SITE):
        return f"stdlib {Path(file).name}:{line} {func}"
    return f"{path.name}:{line} {func}"


def hotspots(profile: cProfile.Profile, requests: int, top: int = 10) -> tuple[list[Hotspot],
                                                                                list[Hotspot]]:
    """The functions that take the most time per request: cumulative (leaving out the wrappers
    around everything), and own time."""
    stats = pstats.Stats(profile, stream=io.StringIO()).stats  # type: ignore[attr-defined]
    rows = [(key, nc, tt, ct) for key, (_, nc, tt, ct, _) in stats.items()]
    total = max((ct for _, _, _, ct in rows), default=0.0) or 1.0

    def spot(key: tuple[str, int, str], nc: int, tt: float, ct: float) -> Hotspot:
        return Hotspot(_name(key), nc / requests, ct / requests * 1e6, tt / requests * 1e6,
                       ct / total)

    inner = [r for r in rows if r[3] / total < 0.75 and not r[0][2].startswith("<")]
    by_cumulative = sorted(inner, key=lambda r: -r[3])[:top]
    by_own = sorted(rows, key=lambda r: -r[2])[:8]
    return [spot(*r) for r in by_cumulative], [spot(*r) for r in by_own]


def _environ(hook: Webhook, signer: Signer, path: str | None = None) -> dict[str, Any]:
    # the path with its query in one: RAW_URI, which the signature check reads, is built from it
    return EnvironBuilder(path=path or hook.target, base_url=f"http://{HOST}:{signer.port}",
                          method="POST", data=urlencode(hook.params),
                          content_type="application/x-www-form-urlencoded",
                          headers=[("X-Twilio-Signature", signer.signature(hook))]).get_environ()


def _call_all(app: Callable[..., Iterable[bytes]], environs: list[dict[str, Any]]) -> list[int]:
    sizes = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        if not status.startswith("200"):
            raise RuntimeError(f"in-process request answered {status}")

    for environ in environs:
        sizes.append(len(b"".join(app(environ, start_response))))
    return sizes


def webhooks(content: Content, settings: Settings, token: str, port: int,
             cases: list[str], requests: int = 400) -> list[CaseProfile]:
    """Profile each of `cases` in-process with the stack's settings; see the module docstring."""
    from bench.bare_app import app as bare
    from hotline.app import create_app

    app = create_app(settings=settings)
    bare.config["TWILIO_AUTH_TOKEN"] = token
    signer = Signer(token, port)
    hooks = {**voice_variants(content), "SMS keyword reply": sms_variants(content.root)}
    out: list[CaseProfile] = []
    for case in cases:
        # numbers of their own: the HTTP phases used others on the same Redis
        stream = Stream(signer, hooks[case], first=486_000_000 + 1_000_000 * len(out))
        chosen = [stream.webhook(i) for i in range(3 * requests)]
        environs = [_environ(h, signer) for h in chosen]
        sizes = _call_all(app.wsgi_app, environs[:requests])  # warm-up, and the sizes
        bare_environs = [_environ(h, signer, f"/twiml/{size}") for h, size in
                         zip(chosen[:requests], sizes, strict=True)]
        # the signed baseline (see bench.webhooks.floor); each environ once: its form is read
        signed = [floor(h, size) for h, size in zip(chosen[:requests], sizes, strict=True)]
        signed_environs = [_environ(h, signer) for h in signed]
        _call_all(bare.wsgi_app, bare_environs[: requests // 2])
        _call_all(bare.wsgi_app, [_environ(h, signer) for h in signed[: requests // 2]])
        hotline_us = _timed(app.wsgi_app, environs[requests:2 * requests])
        bare_us = _timed(bare.wsgi_app, bare_environs)
        signed_us = _timed(bare.wsgi_app, signed_environs)
        profile = cProfile.Profile()
        profile.enable()
        _call_all(app.wsgi_app, environs[2 * requests:])
        profile.disable()
        spots, own = hotspots(profile, requests)
        out.append(CaseProfile(case, hotline_us, bare_us, signed_us, components(profile), spots,
                               own))
    return out


def _timed(app: Callable[..., Iterable[bytes]], environs: list[dict[str, Any]]) -> float:
    """µs per request."""
    started = time.perf_counter()
    _call_all(app, environs)
    return (time.perf_counter() - started) / len(environs) * 1e6


JOB_SCRIPT = """
import json, sys, time
t0 = time.perf_counter()
import workers.jobs as jobs
t1 = time.perf_counter()
services = jobs.services()
t2 = time.perf_counter()
from hotline.twilio.simulator import EXAMPLE_MOBILE
token = services.privacy.encrypt(EXAMPLE_MOBILE)
jobs.send_sms(token, "bench: one job, timed", "bench-profile-%d" % time.time_ns())
t3 = time.perf_counter()
print(json.dumps({"import workers.jobs (hotline, twilio, rq...)": t1 - t0,
                  "build the services (load and validate all content)": t2 - t1,
                  "send: Twilio client, HTTP to the sandbox, Redis": t3 - t2}))
"""


@dataclass
class JobProfile:
    phases: dict[str, float]
    imports: list[tuple[str, float, float]]  # (module, own seconds, cumulative seconds)
    error: str = ""


def rq_job(env: dict[str, str]) -> JobProfile:
    """One SMS job run as a fresh work horse runs it, with the stack's environment."""
    done = subprocess.run([sys.executable, "-c", JOB_SCRIPT], env=env, cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        return JobProfile({}, [], done.stderr.strip().splitlines()[-1] if done.stderr else "?")
    phases = json.loads(done.stdout.strip().splitlines()[-1])
    timed = subprocess.run([sys.executable, "-X", "importtime", "-c", "import workers.jobs"],
                           env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60)
    imports = []
    for line in timed.stderr.splitlines():
        parts = [p.strip() for p in line.removeprefix("import time:").split("|")]
        if len(parts) == 3 and parts[0].isdigit() and parts[1].isdigit():
            imports.append((parts[2], int(parts[0]) / 1e6, int(parts[1]) / 1e6))
    imports.sort(key=lambda item: -item[1])
    return JobProfile(phases, imports[:8])
