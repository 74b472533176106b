"""Failure on purpose: Redis stopped mid-run loses no callback request; the information line and
SMS keywords keep answering."""

from __future__ import annotations

import contextlib

import redis
from click.testing import CliRunner

from hotline import create_app
from hotline.cli import main
from hotline.state.store import EmbeddedRedis, free_port
from tests.helpers import (
    PUBLIC,
    SECRET,
    TOKEN,
    next_url,
    post_step,
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
