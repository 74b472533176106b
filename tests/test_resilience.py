"""Failure on purpose: Redis stopped mid-run loses no callback request; the information line and
SMS keywords keep answering."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner

from hotline.app import create_app
from hotline.cli import main
from hotline.state.store import EmbeddedRedis, free_port
from tests.helpers import (
    PUBLIC,
    SECRET,
    TOKEN,
    next_url,
    post_step,
    run_jobs,
    sms_post,
    sms_replies,
    twilio_post,
    twiml,
)


def ask_by_voice(client, number: str, call: str) -> str:
    """Walk main menu -> 0 -> confirm -> topic 1; returns the reference said afterwards."""
    url = "/voice/step?node=main&lang=en&retry=0"
    for digits in ("0", "1", "1"):
        url = next_url(post_step(client, url, digits, number, call))
    return url.split("ref=")[1].split("&")[0]


def test_redis_down_mid_run_loses_no_callback_request(tmp_path):
    port = free_port()
    server = EmbeddedRedis(tmp_path / "redis", port=port)
    server.start()
    app = create_app({"TWILIO_AUTH_TOKEN": TOKEN, "PUBLIC_BASE_URL": PUBLIC,
                      "SECRET_KEY": SECRET, "REDIS_URL": server.url, "VAR_DIR": tmp_path / "var"})
    client = app.test_client()
    services = app.extensions["hotline"]
    refs = [ask_by_voice(client, "+32470100001", "CA" + "0" * 32)]
    server.stop()
    try:
        # The information line and the SMS keywords still answer.
        root = twiml(twilio_post(client, "/voice/step?node=money&lang=fr", {"Digits": "2"}))
        assert "876" in root.find("Gather")[0].text
        assert sms_replies(sms_post(client, "CPAS", number="+32470100002")) == [
            services.sms.menu("fr", "cpas")]
        # Callback requests are spooled, each with its reference.
        for i in range(3, 8):
            refs.append(ask_by_voice(client, f"+3247010000{i}", f"CA{i:032d}"))
        reply = sms_replies(sms_post(client, "TERUGBELLEN", number="+32470100009"))[0]
        refs.append(next(w.strip(".,:") for w in reply.split()
                         if w.strip(".,:").isdigit() and len(w.strip(".,:")) == 6))
        assert services.spool.pending()
    finally:
        server = EmbeddedRedis(tmp_path / "redis", port=port)
        server.start()
    try:
        env = {"REDIS_URL": server.url, "HOTLINE_SECRET_KEY": SECRET,
               "HOTLINE_VAR_DIR": str(tmp_path / "var")}
        result = CliRunner().invoke(main, ["spool", "replay"], env=env)
        assert result.exit_code == 0, result.output
        assert "6 request(s) moved" in result.output
        again = CliRunner().invoke(main, ["spool", "replay"], env=env)
        assert "0 request(s) moved" in again.output
        r = redis.Redis.from_url(server.url)
        tickets = sorted(k.decode().split(":")[-1] for k in r.keys("cb:ticket:*"))
        assert tickets == sorted(refs)  # exactly one ticket per request, under the ref given
        assert len(r.zrange("cb:queue:en", 0, -1)) == 6
        assert len(r.zrange("cb:queue:nl", 0, -1)) == 1
        assert not services.spool.pending()
        spooled = (tmp_path / "var" / "spool" / "callbacks.jsonl").read_bytes()
        assert b"47010000" not in spooled
    finally:
        server.stop()


def test_spool_replay_cut_short_creates_nothing_twice(services):
    for i in range(3):
        services.spool.append({"ref": f"55555{i}", "number": services.privacy.encrypt(
            f"+3247020000{i}"), "lang": "fr", "topic": "cpas", "note": "", "confirm": ""})
    calls = []

    def flaky(entry):
        calls.append(entry["id"])
        if len(calls) == 2:
            raise redis.ConnectionError("gone again")
        services.callbacks.request(services.privacy.number_key(
            services.privacy.decrypt(entry["number"])), entry["number"], "fr", "cpas",
            request_id=entry["id"], ref=entry["ref"])

    with contextlib.suppress(redis.ConnectionError):
        services.spool.replay(flaky)
    assert services.spool.pending()  # nothing lost
    from hotline.callbacks.requests import replay_spool

    assert replay_spool(services) == 3
    assert sorted(services.callbacks.waiting("fr")) == ["555550", "555551", "555552"]


class Line:
    """The app on a Redis server of its own, which a test stops and starts again."""

    def __init__(self, tmp_path, **config):
        self.port = free_port()
        self.folder = tmp_path / "redis"
        self.server = EmbeddedRedis(self.folder, port=self.port)
        self.server.start()
        self.app = create_app({"TWILIO_AUTH_TOKEN": TOKEN, "PUBLIC_BASE_URL": PUBLIC,
                               "SECRET_KEY": SECRET, "REDIS_URL": self.server.url,
                               "VAR_DIR": tmp_path / "var"} | config)
        self.client = self.app.test_client()
        self.services = self.app.extensions["hotline"]
        self.redis = redis.Redis.from_url(self.server.url, decode_responses=True)

    def down(self) -> None:
        self.server.stop()

    def up(self) -> None:
        self.server = EmbeddedRedis(self.folder, port=self.port)
        self.server.start()


def texts(services, name: str) -> set[str]:
    """The SMS `name` in every language."""
    return {services.sms.text(lang, name) for lang in services.sms.languages}


@pytest.fixture
def line(tmp_path):
    found = Line(tmp_path)
    yield found
    found.server.stop()


def test_stop_and_forget_during_an_outage_take_effect_when_redis_is_back(line):
    services, client = line.services, line.client
    stopper, forgetter = "+32470300001", "+32470300002"
    key = services.privacy.number_key
    assert sms_replies(sms_post(client, "CPAS", number=stopper))  # answered before the outage
    ask_by_voice(client, forgetter, "CA" + "2" * 32)
    assert services.callbacks.open_ticket_of(key(forgetter)) is not None
    line.down()
    (stopped,) = sms_replies(sms_post(client, "STOP", number=stopper))
    (forgotten,) = sms_replies(sms_post(client, "FORGET", number=forgetter))
    assert stopped in texts(services, "stop_confirm")
    assert forgotten in texts(services, "forget_confirm")
    assert services.spool.pending()
    assert b"47030000" not in (services.spool.folder / "callbacks.jsonl").read_bytes()
    line.up()
    # The next SMS (anyone's) replays the spool first: the opt-out holds, the erasure is done.
    assert sms_replies(sms_post(client, "CPAS", number=stopper)) == []
    assert line.redis.exists(f"sms:optout:{key(stopper)}")
    assert services.callbacks.open_ticket_of(key(forgetter)) is None
    assert line.redis.keys("cb:ticket:*") == []
    assert not services.spool.pending()


def test_stop_then_start_during_an_outage_leaves_the_number_opted_in(line):
    services, client = line.services, line.client
    texter = "+32470300003"
    line.down()
    for word in ("STOP", "START"):
        assert sms_replies(sms_post(client, word, number=texter))
    line.up()
    from hotline.callbacks.requests import replay_spool

    assert replay_spool(line.services) == 2
    assert not line.redis.exists(f"sms:optout:{services.privacy.number_key(texter)}")
    assert sms_replies(sms_post(client, "CPAS", number=texter))


def sms_ref(reply: str) -> str:
    """The six-digit reference in an SMS answer."""
    return next(w.strip(".,:") for w in reply.split()
                if w.strip(".,:").isdigit() and len(w.strip(".,:")) == 6)


def test_requests_of_one_number_during_an_outage_get_the_reference_that_will_exist(line):
    services, client = line.services, line.client
    number = "+32470300004"
    line.down()
    refs = [ask_by_voice(client, number, f"CA{i:032d}") for i in range(2)]
    refs.append(sms_ref(sms_replies(sms_post(client, "TERUGBELLEN", number=number))[0]))
    line.up()
    from hotline.callbacks.requests import replay_spool

    assert replay_spool(services) == 3
    assert len(set(refs)) == 1  # told the one reference, as Redis would have
    ticket = services.callbacks.get(refs[0])
    assert ticket and services.privacy.decrypt(ticket.number) == number
    assert line.redis.keys("cb:ticket:*") == [f"cb:ticket:{refs[0]}"]


@pytest.mark.slow
def test_references_given_during_an_outage_never_collide(tmp_path):
    """Thousands of requests in one outage (random six-digit references would collide): each
    caller's reference is the ticket that holds their number."""
    # The spool in memory when the machine has /dev/shm: 4,000 fsyncs on a busy disk take 30 s,
    # and durability is not what this test is about.
    shm = Path("/dev/shm")
    var = Path(tempfile.mkdtemp(dir=shm)) if shm.is_dir() else tmp_path / "var"
    line = Line(tmp_path, VAR_DIR=var)
    try:
        _thousands_of_requests(line)
    finally:
        line.server.stop()
        shutil.rmtree(var, ignore_errors=True)


def _thousands_of_requests(line):
    from hotline.callbacks.requests import open_request, replay_spool

    services = line.services
    line.down()
    numbers = [f"+324710{i:05d}" for i in range(4000)]
    refs = [open_request(services, n, "fr", "cpas", confirm_by_sms=False) for n in numbers]
    assert not any(joined for _, joined in refs)
    assert len({ref for ref, _ in refs}) == len(numbers)
    line.up()
    assert replay_spool(services) == len(numbers)
    pipe = line.redis.pipeline()
    for ref, _ in refs:
        pipe.hget(f"cb:ticket:{ref}", "number")
    held = [services.privacy.decrypt(token) for token in pipe.execute()]
    assert held == numbers


def test_a_reference_that_cannot_be_kept_is_corrected_by_sms(line, sandbox, twilio_env):
    """The number already had a ticket when Redis went down (the spool cannot know): its SMS
    request was told a new reference, and learns by SMS, once, the one that exists."""
    services, client = line.services, line.client
    number = "+32470300005"
    before = ask_by_voice(client, number, "CA" + "3" * 32)
    line.down()
    told = sms_ref(sms_replies(sms_post(client, "TERUGBELLEN", number=number))[0])
    assert told != before
    line.up()
    from hotline.callbacks.requests import replay_spool

    assert replay_spool(services) == 1
    run_jobs({**twilio_env, "REDIS_URL": line.server.url,
              "HOTLINE_VAR_DIR": str(services.settings.var_dir)})
    bodies = [m["body"] for m in sandbox.messages if m["to"] == number]
    assert len(bodies) == 2  # the voice request's confirmation, then the correction
    assert before in bodies[1] and told not in bodies[1]


def test_an_unusable_spool_entry_is_skipped_not_blocking(services, client):
    """An entry that can never be used (a number encrypted under another key, a field missing)
    must not hold up the ones after it, nor make every SMS fail while it waits."""
    services.spool.append({"kind": "forget", "number": "not-a-fernet-token", "number_key": "x"})
    services.spool.append({"kind": "optout"})
    services.spool.add_request({"number_key": services.privacy.number_key("+32470300006"),
                                "number": services.privacy.encrypt("+32470300006"),
                                "lang": "fr", "topic": "cpas", "note": "", "confirm": ""})
    assert sms_replies(sms_post(client, "CPAS", number="+32470300007"))
    assert not services.spool.pending()
    assert len(services.callbacks.waiting("fr")) == 1
