"""What the test files share (no tests here): the test settings, requests signed as Twilio signs
them, reading TwiML, the console's forms, content edits, and running the RQ queue."""

from __future__ import annotations

import logging
import os
import re
import secrets
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from hypothesis import settings
from rq import SimpleWorker
from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TOKEN = "test-auth-token-0123456789abcdef"
SECRET = "test-secret-key-for-numbers"
MOBILE = "+32470123456"  # libphonenumber's example Belgian mobile number
PUBLIC = "https://hotline.example.org"
ACCOUNT = "AC" + "5" * 32
HOTLINE_NUMBER = "+3225550000"
CALL = {
    "CallSid": "CA" + "1" * 32,
    "AccountSid": "AC" + "0" * 32,
    "From": "+32000000000",
    "To": "+32000000001",
    "CallStatus": "in-progress",
}


# --- property tests ---------------------------------------------------------------------------


def examples(full: int) -> int:
    """How many examples a property test tries: `full` under the "ci" Hypothesis profile (what
    `.ci/run` selects), the current profile's smaller max_examples otherwise (see conftest)."""
    profile = settings.get_current_profile_name()
    return full if profile == "ci" else min(full, settings.get_profile(profile).max_examples)


# --- Twilio's side: signed webhooks, TwiML --------------------------------------------------


def sign(url: str, params: dict[str, str], token: str = TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, params)


def twilio_post(client, path: str, params: dict[str, str] | None = None, **extra):
    """POST as Twilio does: form fields signed with the auth token for PUBLIC + path."""
    params = {**CALL, **(params or {})}
    return client.post(path, data=params, headers={"X-Twilio-Signature": sign(PUBLIC + path,
                                                                               params)}, **extra)


def sms_post(client, body: str, number: str = MOBILE, sid: str | None = None):
    """An incoming SMS as Twilio posts it, signed."""
    params = {"MessageSid": sid or "SM" + secrets.token_hex(16), "AccountSid": CALL["AccountSid"],
              "From": number, "To": CALL["To"], "Body": body, "NumMedia": "0"}
    return client.post("/sms", data=params,
                       headers={"X-Twilio-Signature": sign(PUBLIC + "/sms", params)})


def sms_replies(response) -> list[str]:
    """The texts of the <Message> elements of a messaging TwiML answer."""
    assert response.status_code == 200, response.get_data(as_text=True)
    root = ET.fromstring(response.get_data())
    assert root.tag == "Response"
    return [m.text or "" for m in root.iter("Message")]


def twiml(response) -> ET.Element:
    """The root of a voice answer, after checking it is a 200 TwiML document."""
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/xml"
    root = ET.fromstring(response.get_data())
    assert root.tag == "Response"
    return root


def post_step(client, url: str, digits: str | None = None, number: str = MOBILE,
              call: str = CALL["CallSid"]) -> ET.Element:
    """What the line answers when the caller at `number` presses `digits` (None: silence) at
    `url`, a <Gather> or <Record> action."""
    params = {"From": number, "CallSid": call}
    if digits is not None:
        params["Digits"] = digits
    return twiml(twilio_post(client, urlsplit(url).path + "?" + urlsplit(url).query, params))


def said(root: ET.Element) -> list[str]:
    """The texts of every <Say> of a voice answer."""
    return [s.text or "" for s in root.iter("Say")]


def next_url(root: ET.Element) -> str:
    """Where the phone posts the caller's next key: the <Gather> or <Record> action."""
    for verb in root.iter():
        if verb.tag in ("Gather", "Record"):
            return verb.get("action")
    raise AssertionError("the line does not listen")


def spoken(app, path: str, params: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """(verb, text or URL) of what one webhook answer says or plays."""
    root = twiml(twilio_post(app.test_client(), path, params))
    return [(e.tag, (e.text or "").strip()) for e in root.iter() if e.tag in ("Say", "Play")]


# --- the console --------------------------------------------------------------------------------

PASSWORD = "correct horse battery"
AMINA_PHONE = "+32470999888"
BRAM_PHONE = "+32470999777"
HTTPS = {"base_url": "https://localhost"}
REFERER = {"Referer": "https://localhost/console/"}  # Flask-WTF checks it over HTTPS


def add_mediators(services) -> None:
    """Two mediators: amina (fr, ar) and bram (nl, fr), both with PASSWORD."""
    services.mediators.add("amina", "Amina", ["fr", "ar"], AMINA_PHONE, PASSWORD)
    services.mediators.add("bram", "Bram", ["nl", "fr"], BRAM_PHONE, PASSWORD)


def csrf(client, path: str) -> str:
    page = client.get(path, **HTTPS).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def log_in(client, login: str) -> None:
    token = csrf(client, "/console/login")
    response = client.post("/console/login", data={"login": login, "password": PASSWORD,
                                                   "csrf_token": token},
                           headers=REFERER, **HTTPS)
    assert response.status_code == 302


def post(client, path: str, data: dict[str, str] | None = None, page: str = "/console/"):
    """Submit a console form at `path`, with the CSRF token of `page`."""
    return client.post(path, data={**(data or {}), "csrf_token": csrf(client, page)},
                       headers=REFERER, **HTTPS)


def waiting_ticket(app, services) -> str:
    """A callback ticket in French, asked for by SMS from MOBILE; its reference."""
    sms_post(app.test_client(), "AIDE")
    sms_post(app.test_client(), "RAPPEL")
    return services.callbacks.waiting("fr")[0]


# --- content ------------------------------------------------------------------------------------


def edit(path: Path, change: Callable[[Any], Any]) -> None:
    """Apply `change` to the YAML data of `path` and write it back."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


# --- the RQ queue -------------------------------------------------------------------------------


class _WorkerOutput(logging.Handler):
    """What a `hotline worker` process prints: RQ's worker log from INFO up (its own handler),
    any other record from WARNING up (Python's last-resort handler; the worker configures no
    logging)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        shown = logging.INFO if record.name.startswith("rq.worker") else logging.WARNING
        if record.levelno >= shown and not any(r is record for r in self.records):
            self.records.append(record)

    @property
    def lines(self) -> list[str]:
        return [self.format(record) for record in self.records]


def run_jobs(env: dict[str, str]) -> list[str]:
    """Work the `hotline` queue until it is empty, as `hotline worker --burst` does with the
    environment `env` (services built from it, the scheduler's due jobs enqueued first), but in
    this process: RQ's SimpleWorker, on the real Redis, the jobs calling the Twilio sandbox.
    Returns the log lines the worker process would have printed, after checking that none holds
    MOBILE in clear."""
    from hotline import settings
    from hotline.services import build_services, job_queue
    from workers import jobs

    found = build_services(settings.from_environment({**os.environ, **env}))
    output = _WorkerOutput()
    loggers = [logging.getLogger(), logging.getLogger("rq.worker")]
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    own_services = jobs.services
    jobs.services = lambda: found  # what `hotline worker` builds once, before it forks
    for logger in loggers:
        logger.addHandler(output)
    try:
        SimpleWorker([job_queue(found.rq)], connection=found.rq).work(
            burst=True, with_scheduler=True, logging_level="INFO")
    finally:
        jobs.services = own_services
        for logger in loggers:
            logger.removeHandler(output)
        for sig, handler in handlers.items():  # the worker installed its own
            signal.signal(sig, handler)
    lines = output.lines
    assert not [line for line in lines if MOBILE in line], "the worker logged a number in clear"
    return lines


def run_worker_process(env: dict[str, str]) -> None:
    """A real worker process (`hotline worker --burst`, an RQ worker) that works the queue until
    it is empty, then exits."""
    done = subprocess.run(
        [str(BIN / "hotline"), "worker", "--burst"],
        env={**os.environ, **env}, cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert MOBILE not in done.stdout + done.stderr, "the worker logged a number in clear"


# --- Redis round trips --------------------------------------------------------------------------


class RoundTrips:
    """Counts the round trips (each command, or each pipeline as a whole, sent to the real
    server) of the clients it watches, with the commands of each: see `count_round_trips`."""

    def __init__(self) -> None:
        self.trips: list[list[str]] = []
        self._batch: list[str] = []

    def __len__(self) -> int:
        return len(self.trips)

    def clear(self) -> None:
        self.trips.clear()

    def __repr__(self) -> str:
        return f"{len(self.trips)} round trips: {self.trips}"


def count_round_trips(*clients: Any) -> RoundTrips:
    """Make every new connection of `clients` (redis.Redis) count its round trips into the
    returned `RoundTrips`: a send of packed commands (one command, or a whole pipeline) is one
    round trip. The pools' current connections are dropped, so every later one counts."""
    import redis

    counter = RoundTrips()

    class Counting(redis.Connection):
        def pack_command(self, *args: Any) -> list[bytes | memoryview]:
            name = args[0].decode() if isinstance(args[0], bytes) else str(args[0])
            counter._batch.append(name.upper())
            return super().pack_command(*args)

        def send_packed_command(self, command: Any, check_health: bool = True) -> None:
            if check_health:
                self.check_health()  # a health check's PING is a round trip of its own
            counter.trips.append(counter._batch[:])
            counter._batch.clear()
            super().send_packed_command(command, check_health=False)

    for client in clients:
        pool = client.connection_pool
        pool.disconnect()
        pool.connection_class = Counting
        pool.reset()
    return counter
