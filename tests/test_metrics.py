"""/metrics (Prometheus text, behind a token or an address allow-list), summed over several
gunicorn workers; /readyz (Redis, a worker's heartbeat, the audio manifest); /healthz unchanged.
What the metrics say after a day of traffic is checked in test_reports.py."""

from __future__ import annotations

import json
import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from rq import SimpleWorker

from hotline.services import job_queue
from hotline.state.store import free_port
from tests.helpers import BIN, CALL, MOBILE, PUBLIC, ROOT, SECRET, TOKEN, sign, twilio_post


def _families(text: str) -> dict[str, list]:
    return {f.name: f.samples for f in text_string_to_metric_families(text)}


def test_metrics_answer_loopback_by_default_and_parse(client):
    twilio_post(client, "/voice", {"From": MOBILE})
    response = client.get("/metrics")  # the test client comes from 127.0.0.1
    assert response.status_code == 200
    families = _families(response.get_data(as_text=True))
    assert "hotline_webhook_seconds" in families and "hotline_rq_queued_jobs" in families
    assert families["hotline_redis_up"][0].value == 1
    assert MOBILE not in response.get_data(as_text=True)


@pytest.mark.parametrize(("allow", "address", "header", "status"), [
    ("-", "127.0.0.1", "", 403),  # no allow-list: loopback is no exception
    ("-", "192.0.2.7", "Bearer s3cret-scrape-token", 200),
    ("-", "192.0.2.7", "Bearer wrong", 403),
    ("-", "192.0.2.7", "s3cret-scrape-token", 403),
    ("10.0.0.0/8", "10.20.30.40", "", 200),
    ("10.0.0.0/8", "192.0.2.7", "", 403),
    ("10.0.0.0/8,2001:db8::/32", "2001:db8::5", "", 200),
])
def test_metrics_need_the_token_or_an_allowed_address(app, services, allow, address, header,
                                                      status):
    from hotline.settings import with_overrides

    services.settings = with_overrides(services.settings, {"METRICS_ALLOW": allow,
                                                           "METRICS_TOKEN": "s3cret-scrape-token"})
    response = app.test_client().get("/metrics", headers={"Authorization": header} if header
                                     else {}, environ_base={"REMOTE_ADDR": address})
    assert response.status_code == status


def test_a_bad_allow_list_stops_start_up():
    from hotline.settings import SettingsError, from_environment

    with pytest.raises(SettingsError, match="HOTLINE_METRICS_ALLOW"):
        from_environment({"HOTLINE_METRICS_ALLOW": "10.0.0.0/33"})


def test_metrics_without_redis_say_so(tmp_path):
    from hotline.app import create_app

    app = create_app({"TWILIO_AUTH_TOKEN": TOKEN, "SECRET_KEY": SECRET,
                      "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
                      "VAR_DIR": tmp_path / "var"})
    response = app.test_client().get("/metrics")
    assert response.status_code == 200
    assert _families(response.get_data(as_text=True))["hotline_redis_up"][0].value == 0
    ready = app.test_client().get("/readyz")
    assert ready.status_code == 503 and ready.json["redis"] == "unreachable"
    assert app.test_client().get("/healthz").status_code == 200


def test_readyz_needs_redis_a_worker_heartbeat_and_the_audio_manifest(app, services, client):
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json == {"status": "not ready", "redis": "ok", "worker": "no recent heartbeat",
                          "audio": "missing"}
    worker = SimpleWorker([job_queue(services.rq)], connection=services.rq)
    worker.register_birth()  # what a starting worker does: it is seen, with a heartbeat
    try:
        assert client.get("/readyz").json["worker"] == "ok"
        services.audio.root.mkdir(parents=True, exist_ok=True)
        manifest = services.audio.root / "manifest.json"
        manifest.write_text("{not json", encoding="utf-8")
        assert client.get("/readyz").json["audio"] == "unreadable"
        manifest.write_text(json.dumps({"files": {}}), encoding="utf-8")
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json["status"] == "ready"
    finally:
        worker.register_death()
    assert client.get("/readyz").json["worker"] == "no recent heartbeat"


@pytest.mark.slow
def test_webhook_timings_add_up_over_gunicorn_workers(redis_server, tmp_path):
    """Two gunicorn workers answer; /metrics counts every request whichever worker answers
    the scrape (prometheus_client's multiprocess mode, as `hotline run` sets it up)."""
    port = free_port()
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
           "REDIS_URL": redis_server.url, "TWILIO_AUTH_TOKEN": TOKEN, "PUBLIC_BASE_URL": PUBLIC,
           "HOTLINE_SECRET_KEY": SECRET, "HOTLINE_VAR_DIR": str(tmp_path / "var")}
    web = subprocess.Popen([str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers",
                            "2", "hotline.wsgi:app"], env=env, cwd=ROOT,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{base}/healthz", timeout=10).status_code == 200:
                    break
            except requests.RequestException:
                pass  # not listening yet, or its workers still loading the content
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.2)

        def ring(_: int) -> None:
            params = {**CALL, "From": MOBILE}
            response = requests.post(f"{base}/voice", data=params, timeout=20, headers={
                "X-Twilio-Signature": sign(PUBLIC + "/voice", params), "Connection": "close"})
            assert response.status_code == 200

        sent = 0
        with ThreadPoolExecutor(max_workers=8) as pool:
            # Calls at once, until both workers have answered some (each keeps its own file).
            while len(list(metrics_dir.iterdir())) < 2 and sent < 400:
                list(pool.map(ring, range(8)))
                sent += 8
        assert len(list(metrics_dir.iterdir())) >= 2, "one worker answered everything"
        for _ in range(4):  # whichever worker answers the scrape
            text = requests.get(f"{base}/metrics", timeout=10).text
            counts = [s.value for s in _families(text)["hotline_webhook_seconds"]
                      if s.name.endswith("_count") and s.labels.get("route") == "/voice"]
            assert counts == [sent]
    finally:
        web.terminate()
        web.wait(timeout=30)
