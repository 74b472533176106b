"""Operations: Prometheus metrics at /metrics and readiness at /readyz (liveness stays /healthz).

/metrics (Prometheus text format, by the official prometheus_client) answers a scraper that sends
`Authorization: Bearer <HOTLINE_METRICS_TOKEN>` or comes from an address in HOTLINE_METRICS_ALLOW;
anyone else gets 403. Webhook latency is a histogram per route, measured in each web process:
with several gunicorn workers, set PROMETHEUS_MULTIPROC_DIR to an empty folder (as `hotline run`
does) and prometheus_client adds up every worker's. Everything else is read from Redis at scrape
time, so it is the same whichever process answers: RQ's queue, failed jobs and workers, the
callback queues, today's caps, Twilio API errors and outbox retries (hotline.state.ops), today's
events (hotline.state.events, totals per event name: no language, item or number in a label).
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import os
import time
from collections.abc import Iterator
from ipaddress import ip_address

import redis
from flask import Blueprint, Flask, Response, abort, current_app, g, jsonify, request
from prometheus_client import CollectorRegistry, Histogram, generate_latest, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import INF
from rq import Worker
from rq.registry import FailedJobRegistry
from rq.worker import BaseWorker

from hotline.audio.library import MANIFEST
from hotline.callbacks import outbox
from hotline.services import Services, job_queue
from hotline.state import ops

bp = Blueprint("ops", __name__)
HEARTBEAT_SECONDS = 120  # a worker not heard from for longer is not counted as alive
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, INF)
WEBHOOKS = ("voice", "sms")  # the blueprints whose requests are timed


def _services() -> Services:
    return current_app.extensions["hotline"]


class RedisCollector(Collector):
    """The gauges and counters read from Redis at each scrape."""

    def __init__(self, services: Services):
        self.services = services

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("hotline_redis_up", "1 when Redis answers the scrape")
        try:
            found = list(self._from_redis())
        except redis.RedisError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from found

    def _from_redis(self) -> Iterator[Metric]:
        s = self.services
        queue = job_queue(s.rq)
        yield GaugeMetricFamily("hotline_rq_queued_jobs", "jobs waiting in the RQ queue",
                                value=queue.count)
        yield GaugeMetricFamily("hotline_rq_failed_jobs", "jobs in RQ's failed job registry",
                                value=FailedJobRegistry(queue=queue).count)
        yield GaugeMetricFamily("hotline_rq_workers_alive",
                                f"RQ workers heard from in the last {HEARTBEAT_SECONDS} s",
                                value=len(alive_workers(s)))
        counters = ops.read(s.redis)
        errors = CounterMetricFamily("hotline_twilio_api_errors",
                                     "failed Twilio API requests, by error code", labels=["code"])
        for code, count in sorted(counters["twilio_errors"].items()):
            errors.add_metric([code], count)
        yield errors
        retries = CounterMetricFamily("hotline_outbox_retries",
                                      "failed attempts to send an SMS or place a call (retried)",
                                      labels=["kind"])
        for kind, count in sorted(counters["outbox_retries"].items()):
            retries.add_metric([kind], count)
        yield retries
        waiting = GaugeMetricFamily("hotline_callbacks_waiting", "callback tickets waiting",
                                    labels=["lang"])
        oldest = GaugeMetricFamily("hotline_callbacks_oldest_wait_seconds",
                                   "how long the oldest waiting ticket has waited",
                                   labels=["lang"])
        for lang, (count, seconds) in s.callbacks.stats(list(s.content.languages)).items():
            waiting.add_metric([lang], count)
            oldest.add_metric([lang], round(seconds, 1))
        yield waiting
        yield oldest
        used = GaugeMetricFamily("hotline_daily_cap_used", "used today of a daily cap",
                                 labels=["kind"])
        cap = GaugeMetricFamily("hotline_daily_cap", "a daily cap", labels=["kind"])
        for kind, (so_far, limit) in outbox.cap_status(s).items():
            used.add_metric([kind.replace(" ", "_")], so_far)
            cap.add_metric([kind.replace(" ", "_")], limit)
        yield used
        yield cap
        today = dt.datetime.now(s.events.zone).date()
        totals: dict[str, int] = {}
        for c in s.events.read(today, today):
            totals[c.name] = totals.get(c.name, 0) + c.count
        events = GaugeMetricFamily("hotline_events_today", "anonymous events counted today",
                                   labels=["event"])
        for name, count in sorted(totals.items()):
            events.add_metric([name], count)
        yield events


def alive_workers(services: Services) -> list[BaseWorker]:
    """The RQ workers whose last heartbeat is recent."""
    now = dt.datetime.now(dt.UTC)
    alive = []
    for worker in Worker.all(connection=services.rq):
        beat = worker.last_heartbeat
        if beat is None:
            continue
        beat = beat if beat.tzinfo else beat.replace(tzinfo=dt.UTC)
        if (now - beat).total_seconds() <= HEARTBEAT_SECONDS:
            alive.append(worker)
    return alive


def init_app(app: Flask, services: Services) -> None:
    """Time the webhooks, and keep this app's registry (its histogram, the Redis collector)."""
    registry = CollectorRegistry()  # not auto_describe: it would read Redis at start-up
    latency = Histogram("hotline_webhook_seconds", "time to answer a Twilio webhook, by route",
                        ["route"], buckets=LATENCY_BUCKETS, registry=registry)
    collector = RedisCollector(services)
    registry.register(collector)
    app.extensions["hotline.metrics"] = (registry, collector)

    @app.before_request
    def _start() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def _observe(response: Response) -> Response:
        if request.blueprint in WEBHOOKS and request.url_rule is not None and "started" in g:
            latency.labels(request.url_rule.rule).observe(time.perf_counter() - g.started)
        return response


def _allowed() -> bool:
    settings = _services().settings
    given = request.headers.get("Authorization", "")
    if settings.metrics_token and hmac.compare_digest(given.encode(),
                                                      f"Bearer {settings.metrics_token}".encode()):
        return True
    try:
        address = ip_address(request.remote_addr or "")
    except ValueError:
        return False
    return any(address in network for network in settings.metrics_allow)


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus metrics (see the module's docstring); 403 unless the scraper is allowed."""
    if not _allowed():
        abort(403)
    registry, collector = current_app.extensions["hotline.metrics"]
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        registry.register(collector)
    return Response(generate_latest(registry),
                    mimetype="text/plain; version=0.0.4; charset=utf-8",
                    headers={"Cache-Control": "no-store"})


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """Readiness: Redis answers, an RQ worker's heartbeat is recent, the audio manifest is
    readable. 200 when all are, else 503; each named in the JSON answer."""
    services = _services()
    checks = {"redis": services.redis_status(), "worker": "unknown", "audio": _manifest(services)}
    if checks["redis"] == "ok":
        try:
            checks["worker"] = "ok" if alive_workers(services) else "no recent heartbeat"
        except redis.RedisError:
            checks["worker"] = "unknown"
    ready = all(value == "ok" for value in checks.values())
    return jsonify(status="ready" if ready else "not ready", **checks), 200 if ready else 503


def _manifest(services: Services) -> str:
    path = services.audio.root / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return "missing"
    except (OSError, ValueError):
        return "unreadable"
    return "ok" if isinstance(data, dict) and isinstance(data.get("files"), dict) else "unreadable"
