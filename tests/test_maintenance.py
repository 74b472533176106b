"""The minute-by-minute maintenance keeps going through a long Redis outage and a killed worker:
real redis-server, real `hotline worker` processes (issue 14, item 1)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import redis
from rq.registry import StartedJobRegistry

from hotline.state.store import EmbeddedRedis, free_port
from tests.helpers import BIN, SECRET

pytestmark = pytest.mark.slow
GAP_SECONDS = 6 * 60


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("a") as out:  # a file, not a pipe nobody reads while it runs
        return subprocess.Popen([BIN / "hotline", "worker"], env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)


def let_time_pass(client: redis.Redis, seconds: int) -> None:
    """What `seconds` more of wall-clock time does to the keys of a Redis that was down meanwhile:
    every expiry that falls within them has happened, the others are that much nearer."""
    for key in client.scan_iter(count=1000):
        left = client.pttl(key)
        if left < 0:
            continue
        if left <= seconds * 1000:
            client.delete(key)
        else:
            client.pexpire(key, left - seconds * 1000)


def spool_request(env: dict[str, str], number: str) -> str:
    """A callback request spooled as the web does while Redis is unreachable; returns its ref."""
    from hotline import settings
    from hotline.callbacks.requests import open_request
    from hotline.services import build_services

    found = build_services(settings.from_environment({**os.environ, **env,
                                                      "REDIS_URL": "redis://127.0.0.1:1/0"}))
    ref, _ = open_request(found, number, "fr", "cpas", confirm_by_sms=False)
    assert found.spool.pending()
    return ref


def overdue_claim(client: redis.Redis, env: dict[str, str]) -> str:
    """A ticket claimed by a mediator whose claim is past its deadline; returns its ref."""
    from hotline import settings
    from hotline.services import build_services

    found = build_services(settings.from_environment({**os.environ, **env}))
    found.callbacks.request("k-claim", found.privacy.encrypt("+32470400001"), "nl", "cpas")
    ticket = found.callbacks.take_next("bram", ["nl"])
    assert ticket is not None
    client.zadd("cb:claims", {ticket.ref: time.time() - 1})
    return ticket.ref


def wait_for_maintenance(client: redis.Redis, refs: list[str], claimed: str,
                         seconds: float) -> float:
    """Seconds until the spooled `refs` are tickets and the `claimed` ticket waits again, and the
    maintenance job that did it has ended."""
    started = time.monotonic()
    running = StartedJobRegistry("hotline", connection=client)
    while time.monotonic() - started < seconds:
        done = all(client.exists(f"cb:ticket:{ref}") for ref in refs) and client.hget(
            f"cb:ticket:{claimed}", "status") == b"waiting"
        if done and not running.count:
            return time.monotonic() - started
        time.sleep(0.5)
    raise AssertionError(f"no maintenance within {seconds} s")


def test_maintenance_resumes_after_a_long_outage_and_a_killed_worker(tmp_path, twilio_env):
    port = free_port()
    server = EmbeddedRedis(tmp_path / "redis", port=port)
    server.start()
    env = {**os.environ, **twilio_env, "REDIS_URL": server.url, "HOTLINE_SECRET_KEY": SECRET,
           "HOTLINE_VAR_DIR": str(tmp_path / "var")}
    client = redis.Redis.from_url(server.url)
    log = tmp_path / "workers.log"
    workers: list[subprocess.Popen] = []
    try:
        # As deployed: the release step, then two workers; maintenance runs.
        subprocess.run([BIN / "hotline", "schedule"], env=env, check=True, timeout=60,
                       capture_output=True)
        first = [spool_request(env, "+32470400010")]
        workers += [start_worker(env, log), start_worker(env, log)]
        wait_for_maintenance(client, first, overdue_claim(client, env), 90)

        # Redis goes down; one worker is killed; six minutes pass; Redis comes back.
        server.stop()
        os.kill(workers[0].pid, signal.SIGKILL)
        refs = [spool_request(env, "+32470400011")]
        server = EmbeddedRedis(tmp_path / "redis", port=port)
        server.start()
        let_time_pass(client, GAP_SECONDS)
        claimed = overdue_claim(client, env)
        # The surviving worker resumes maintenance by itself within two minutes.
        wait_for_maintenance(client, refs, claimed, 120)

        # That one is killed too, and its supervisor starts another: it resumes at once.
        os.kill(workers[1].pid, signal.SIGKILL)
        let_time_pass(client, GAP_SECONDS)
        refs.append(spool_request(env, "+32470400012"))
        workers.append(start_worker(env, log))
        assert wait_for_maintenance(client, refs, overdue_claim(client, env), 120) < 60
    finally:
        for worker in workers:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(worker.pid, signal.SIGKILL)  # its scheduler and work horses too
            worker.wait(timeout=10)
        server.stop()
