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
from rq import Worker
from rq.registry import StartedJobRegistry

from hotline import settings
from hotline.callbacks.requests import open_request
from hotline.services import QUEUE, Services, build_services, job_queue
from hotline.state.store import EmbeddedRedis, free_port
from tests.helpers import BIN, SECRET
from workers.clock import MaintainingWorker, tick

pytestmark = pytest.mark.slow
GAP_SECONDS = 6 * 60


def environment(tmp_path: Path, twilio_env: dict[str, str],
                server: EmbeddedRedis) -> dict[str, str]:
    """A worker's environment, as deployed: its Redis, its secret, its data directory."""
    return {**os.environ, **twilio_env, "REDIS_URL": server.url, "HOTLINE_SECRET_KEY": SECRET,
            "HOTLINE_VAR_DIR": str(tmp_path / "var")}


def services(env: dict[str, str]) -> Services:
    """The services a process with environment `env` builds."""
    return build_services(settings.from_environment(env))


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
    found = services({**env, "REDIS_URL": "redis://127.0.0.1:1/0"})
    ref, _ = open_request(found, number, "fr", "cpas", confirm_by_sms=False)
    assert found.spool.pending()
    return ref


def overdue_claim(client: redis.Redis, env: dict[str, str]) -> str:
    """A ticket claimed by a mediator whose claim is past its deadline; returns its ref."""
    found = services(env)
    found.callbacks.request("k-claim", found.privacy.encrypt("+32470400001"), "nl", "cpas")
    ticket = found.callbacks.take_next("bram", ["nl"])
    assert ticket is not None
    client.zadd("cb:claims", {ticket.ref: time.time() - 1})
    return ticket.ref


def wait_for_maintenance(client: redis.Redis, refs: list[str], claimed: str,
                         seconds: float) -> None:
    """Until the spooled `refs` are tickets and the `claimed` ticket waits again, and the
    maintenance job that did it has ended (at most `seconds`)."""
    started = time.monotonic()
    running = StartedJobRegistry("hotline", connection=client)
    while time.monotonic() - started < seconds:
        done = all(client.exists(f"cb:ticket:{ref}") for ref in refs) and client.hget(
            f"cb:ticket:{claimed}", "status") == b"waiting"
        if done and not running.count:
            return
        time.sleep(0.5)
    raise AssertionError(f"no maintenance within {seconds} s")


def wait_for_workers(client: redis.Redis, count: int, seconds: float = 90) -> None:
    """Until `count` workers have registered with rq."""
    started = time.monotonic()
    while Worker.count(connection=client) < count:
        assert time.monotonic() - started < seconds, f"{count} workers not up in {seconds} s"
        time.sleep(0.2)


def test_maintenance_resumes_after_a_long_outage_and_a_killed_worker(tmp_path, twilio_env):
    port = free_port()
    server = EmbeddedRedis(tmp_path / "redis", port=port)
    server.start()
    env = environment(tmp_path, twilio_env, server)
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
        wait_for_workers(client, 2)  # both up (a loaded machine starts them slowly)

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

        # That one is killed too, and its supervisor starts another: it resumes by itself.
        os.kill(workers[1].pid, signal.SIGKILL)
        let_time_pass(client, GAP_SECONDS)
        refs.append(spool_request(env, "+32470400012"))
        workers.append(start_worker(env, log))
        wait_for_maintenance(client, refs, overdue_claim(client, env), 120)
    finally:
        if log.exists():  # shown by pytest when the test fails
            print(log.read_text()[-8000:])
        for worker in workers:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(worker.pid, signal.SIGKILL)  # its scheduler and work horses too
            worker.wait(timeout=10)
        server.stop()


def test_a_worker_between_jobs_outlives_redis_going_away(tmp_path, twilio_env):
    """rq ends a worker on a Redis error anywhere outside its queue wait (where it retries): a
    Redis stopped just after a job, while the worker checks for suspension, beats its heartbeat
    or runs its upkeep, must not end it."""
    server = EmbeddedRedis(tmp_path / "redis", port=free_port())
    server.start()
    try:
        found = services(environment(tmp_path, twilio_env, server))
        worker = MaintainingWorker([job_queue(found.rq)], connection=found.rq, services=found)
        worker.register_birth()
    finally:
        server.stop()
    worker.check_for_suspension(burst=False)
    worker.heartbeat()
    worker.run_maintenance_tasks()
    with pytest.raises(redis.ConnectionError):  # the queue wait still sees it, and retries
        worker.connection.ping()


def test_a_worker_started_during_an_outage_waits_for_redis(tmp_path, twilio_env):
    """`hotline worker` started while Redis is down waits for it (saying so), then keeps the
    maintenance going, instead of failing with a traceback."""
    port = free_port()
    server = EmbeddedRedis(tmp_path / "redis", port=port)
    env = environment(tmp_path, twilio_env, server)
    log = tmp_path / "worker.log"
    worker = start_worker(env, log)
    try:
        deadline = time.monotonic() + 60
        while "Redis unreachable" not in log.read_text():
            assert worker.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        server.start()
        client = redis.Redis.from_url(server.url)
        deadline = time.monotonic() + 90
        while not client.exists("maint:last"):
            assert worker.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.5)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
        server.stop()


def test_a_minute_whose_job_could_not_be_queued_is_tried_again(tmp_path, twilio_env):
    """The clock takes the minute's slot, then queues the job: when queueing fails (here the
    queue's key holds the wrong type), the slot is given back, so the next wake-up tries again
    instead of the maintenance skipping a minute."""
    server = EmbeddedRedis(tmp_path / "redis", port=free_port())
    server.start()
    try:
        found = services(environment(tmp_path, twilio_env, server))
        found.redis.set(f"rq:queue:{QUEUE}", "not a list")
        with pytest.raises(redis.ResponseError):
            tick(found)
        found.redis.delete(f"rq:queue:{QUEUE}")
        job_id = tick(found)
        assert job_id is not None and found.redis.lrange(f"rq:queue:{QUEUE}", 0, -1) == [job_id]
        assert tick(found) is None  # taken for this minute
    finally:
        server.stop()
