"""Twilio failing on purpose: retries with backoff, the failed list, a worker killed mid-send
(the message still goes out exactly once), and the daily caps."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from rq import Queue
from rq.registry import FailedJobRegistry, StartedJobRegistry

from hotline.callbacks import outbox
from tests.helpers import BIN, MOBILE, ROOT, run_jobs

ADMIN_PHONE = "+32470999111"


def test_failures_are_retried_and_the_message_sent_once(services, sandbox, twilio_env):
    sandbox.fail_next(2, status=500)
    outbox.queue_sms(services, MOBILE, "hello", "retry-test")
    run_jobs(twilio_env)
    assert sandbox.requests == 3
    assert [m["body"] for m in sandbox.messages] == ["hello"]


def test_jittered_exponential_backoff(services):
    services.settings = services.settings.replace(retry_base_seconds=10, retry_max=6)
    intervals = outbox.retry_policy(services).intervals
    assert len(intervals) == 6
    for i, seconds in enumerate(intervals):
        assert 8 * 2 ** i <= seconds <= 12 * 2 ** i


def test_too_many_failures_land_in_the_failed_list_without_the_number(services, sandbox,
                                                                     twilio_env):
    services.settings = services.settings.replace(retry_max=2)
    sandbox.fail_next(3, status=429)
    outbox.queue_sms(services, MOBILE, "hello", "give-up")
    run_jobs(twilio_env)
    assert sandbox.requests == 3 and sandbox.messages == []
    failed = FailedJobRegistry(queue=Queue("hotline", connection=services.rq))
    (job_id,) = failed.get_job_ids()
    job = Queue("hotline", connection=services.rq).fetch_job(job_id)
    error = job.latest_result().exc_string
    assert "Twilio answered 429" in error
    assert "470123456" not in error
    # An admin retries it once Twilio works again.
    failed.requeue(job_id)
    run_jobs(twilio_env)
    assert [m["body"] for m in sandbox.messages] == ["hello"]


def kill_tagged(tag: str) -> None:
    """SIGKILL every process whose environment holds `tag`: a work horse that outlived its
    worker would otherwise fail later and requeue its job into the next test's Redis."""
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and f"TEST_TAG={tag}".encode() in (
                    entry / "environ").read_bytes():
                os.kill(int(entry.name), signal.SIGKILL)
        except OSError:  # gone already, or not ours to read
            continue


@pytest.mark.slow
def test_worker_killed_mid_send_still_sends_exactly_once(services, sandbox, twilio_env):
    sandbox.delay_seconds = 30  # Twilio has the message, but the worker never hears back
    outbox.queue_sms(services, MOBILE, "only once", "kill-test")
    tag = f"kill-test-{os.getpid()}-{time.monotonic_ns()}"
    env = {**os.environ, **twilio_env, "HOTLINE_SEND_STALE_SECONDS": "1", "TEST_TAG": tag}
    worker = subprocess.Popen(
        [str(BIN / "hotline"), "worker"], env=env, cwd=ROOT,
        start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not sandbox.messages and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sandbox.messages, "the worker never sent"
    finally:
        os.killpg(worker.pid, signal.SIGKILL)  # the worker and its work horse, mid-request
        worker.wait()
        kill_tagged(tag)  # RQ's work horse may have left the group: it must not live on

    sandbox.delay_seconds = 0
    queue = Queue("hotline", connection=services.rq)
    started = StartedJobRegistry(queue=queue)
    assert started.count == 1
    time.sleep(1.1)  # the claim is now stale
    started.cleanup(timestamp=time.time() + 3600)  # what a living worker does after a while
    run_jobs(twilio_env | {"HOTLINE_SEND_STALE_SECONDS": "1"})
    assert [m["body"] for m in sandbox.messages] == ["only once"]
    assert services.redis.get("out:sms:kill-test") == sandbox.messages[0]["sid"]


def test_a_stale_claim_with_nothing_sent_is_sent(services, sandbox, twilio_env):
    services.redis.set("out:sms:lost", f"sending:{time.time() - 600!r}")
    outbox.queue_sms(services, MOBILE, "after a crash before sending", "lost")
    run_jobs(twilio_env)
    assert [m["body"] for m in sandbox.messages] == ["after a crash before sending"]


def test_daily_sms_cap_stops_sending_and_alerts_admins(services, sandbox, twilio_env):
    services.mediators.add("boss", "Admin", ["fr"], ADMIN_PHONE, "correct horse battery",
                           role="admin")
    for i in range(3):
        outbox.queue_sms(services, MOBILE, f"message {i}", f"cap-{i}")
    run_jobs({**twilio_env, "HOTLINE_SMS_DAILY_CAP": "2", "HOTLINE_RETRY_MAX": "0"})
    to_caller = [m["body"] for m in sandbox.messages if m["to"] == MOBILE]
    assert to_caller == ["message 0", "message 1"]
    alerts = [m["body"] for m in sandbox.messages if m["to"] == ADMIN_PHONE]
    assert len(alerts) == 1 and "cap on sms (2) is reached" in alerts[0]
    assert outbox.cap_status(services)["sms"][0] >= 2
