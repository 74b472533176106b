"""`hotline run` starts the real stack (embedded Redis, gunicorn, RQ worker); Ctrl-C stops it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
import requests

from hotline.state.store import free_port

BIN = Path(sys.executable).parent
pytestmark = pytest.mark.slow


def wait_for(url: str, process: subprocess.Popen, seconds: float = 120) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, "hotline run exited early"
        try:
            return requests.get(url, timeout=1).json()
        except requests.RequestException:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {seconds} s")


def test_run_serves_calls_and_stops_everything_on_ctrl_c(tmp_path):
    port, redis_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in ("REDIS_URL", "TWILIO_AUTH_TOKEN", "PUBLIC_BASE_URL")}
    env.update(HOTLINE_VAR_DIR=str(tmp_path), PORT=str(port), REDIS_PORT=str(redis_port))
    log = (tmp_path / "run.log").open("w")  # a file, not a pipe nobody reads while it runs
    service = subprocess.Popen([BIN / "hotline", "run"], env=env, stdout=log,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        health = wait_for(f"http://127.0.0.1:{port}/healthz", service)
        assert health["redis"] == "ok"
        assert (tmp_path / "redis" / "appendonly.aof").exists() or any(
            (tmp_path / "redis").glob("appendonly*"))
        token_file = tmp_path / "dev-twilio-auth-token"
        assert oct(token_file.stat().st_mode & 0o777) == "0o600"

        call = subprocess.run(
            [BIN / "hotline", "call", "--url", f"http://127.0.0.1:{port}", "--keys", "2 1 1"],
            env=env, capture_output=True, text=True, timeout=60,
        )
        assert call.returncode == 0, call.stderr
        assert "OCMW" in call.stdout

        unsigned = requests.post(f"http://127.0.0.1:{port}/voice", data={"From": "x"}, timeout=5)
        assert unsigned.status_code == 403

        client = redis.Redis(port=redis_port)
        deadline = time.monotonic() + 20
        while not client.smembers("rq:workers") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert client.smembers("rq:workers"), "no RQ worker registered"
    finally:
        os.killpg(service.pid, signal.SIGINT)  # what Ctrl-C sends to the foreground group
        service.wait(timeout=60)
        log.close()
    output = (tmp_path / "run.log").read_text()
    assert "hotline is running on http://localhost:" in output
    assert "hotline call --url" in output
    try:
        redis.Redis(port=redis_port, socket_connect_timeout=1).ping()
    except redis.ConnectionError:
        pass
    else:
        raise AssertionError("the embedded Redis is still running after Ctrl-C")
    try:
        requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
    except requests.ConnectionError:
        pass
    else:
        raise AssertionError("the web service is still running after Ctrl-C")
