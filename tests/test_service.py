"""`hotline run` starts the real stack (embedded Redis, gunicorn, RQ worker); Ctrl-C stops it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
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


def start_run(tmp_path, name: str = "run") -> tuple[subprocess.Popen, int, int, dict]:
    """`hotline run` in its own session (so a signal to it reaches nobody else); its port, its
    Redis's port and environment. Its output goes to tmp_path/<name>.log."""
    port, redis_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in ("REDIS_URL", "TWILIO_AUTH_TOKEN", "PUBLIC_BASE_URL")}
    env.update(HOTLINE_VAR_DIR=str(tmp_path), PORT=str(port), REDIS_PORT=str(redis_port))
    with (tmp_path / f"{name}.log").open("w") as log:
        service = subprocess.Popen([BIN / "hotline", "run", "--web-workers", "1"], env=env,
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    return service, port, redis_port, env


def child(service: subprocess.Popen, word: str, seconds: float = 60) -> psutil.Process:
    """The direct child of `service` with `word` as an argument, or as its program's name
    (waits for it)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for proc in psutil.Process(service.pid).children():
            with contextlib.suppress(psutil.Error):
                if word in proc.cmdline() or proc.name() == word:
                    return proc
        time.sleep(0.2)
    raise AssertionError(f"no {word} child of hotline run")


def wait_until(check, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if check():
                return
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {seconds} s")


def stop_group(service: subprocess.Popen) -> None:
    """Ctrl-C to the whole group, then SIGKILL to whatever of it is left."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(service.pid, signal.SIGINT)
    with contextlib.suppress(subprocess.TimeoutExpired):
        service.wait(timeout=60)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(service.pid, signal.SIGKILL)


def test_run_restarts_its_worker_notices_redis_and_refuses_a_second_run(tmp_path):
    service, port, redis_port, env = start_run(tmp_path)
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz", service)
        # A second `hotline run` on the same data directory is refused, the first one untouched.
        second = subprocess.Popen([BIN / "hotline", "run"], env={
            **env, "PORT": str(free_port()), "REDIS_PORT": str(free_port())},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
        try:
            out, err = second.communicate(timeout=60)
        finally:
            stop_group(second)
        assert second.returncode == 2, out + err
        assert "already" in err and str(tmp_path) in err
        assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).ok

        # The worker dies: it is restarted, and the log says so; the web keeps serving.
        client = redis.Redis(port=redis_port)
        wait_until(lambda: client.smembers("rq:workers"), 60, "the worker registers")
        worker = child(service, "worker")
        worker.kill()
        wait_until(lambda: child(service, "worker", 1).pid != worker.pid, 30, "a new worker")
        wait_until(lambda: len(client.smembers("rq:workers")) >= 1, 30, "it registers")
        assert service.poll() is None
        assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).ok

        # Redis dies: noticed, said, started again on its port and data.
        client.set("before", "1")
        child(service, "redis-server").kill()
        wait_until(lambda: client.get("before") == b"1", 60, "Redis back with its data")
        health = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json()
        assert health["redis"] == "ok"
        assert service.poll() is None
    finally:
        stop_group(service)
    output = (tmp_path / "run.log").read_text()
    assert "worker stopped" in output and "restarting" in output
    assert "Redis stopped" in output


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_to_run_alone_stops_all_its_children(tmp_path, sig):
    """What a supervisor (systemd, docker stop) does: the signal to `hotline run` only."""
    service, port, redis_port, _ = start_run(tmp_path)
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz", service)
        child(service, "worker")
        family = psutil.Process(service.pid).children(recursive=True)
        assert len(family) >= 4  # Redis, gunicorn and its worker, the RQ worker
        os.kill(service.pid, sig)
        service.wait(timeout=60)
        _, alive = psutil.wait_procs(family, timeout=30)
        assert not alive, [p.cmdline() for p in alive]
    finally:
        stop_group(service)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
    with pytest.raises(redis.ConnectionError):
        redis.Redis(port=redis_port, socket_connect_timeout=1).ping()
