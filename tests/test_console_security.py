"""Console security: login throttling, idle sessions, headers, the audit log, the failed list."""

from __future__ import annotations

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from argon2 import PasswordHasher
from click.testing import CliRunner
from rq import Queue
from rq.registry import FailedJobRegistry

from hotline.app import create_app
from hotline.callbacks import outbox
from hotline.cli import main
from tests.helpers import (
    HTTPS,
    MOBILE,
    PASSWORD,
    REFERER,
    SECRET,
    csrf,
    log_in,
    post,
    run_jobs,
    waiting_ticket,
)

pytestmark = pytest.mark.usefixtures("mediators")  # amina and bram

def try_password(client, password: str, login: str = "amina") -> int:
    token = csrf(client, "/console/login")
    return client.post("/console/login", data={"login": login, "password": password,
                                               "csrf_token": token},
                       headers=REFERER, **HTTPS).status_code


def test_five_wrong_passwords_pause_the_login(app, services):
    client = app.test_client()
    assert [try_password(client, "wrong") for _ in range(5)] == [401] * 5
    assert try_password(client, PASSWORD) == 429  # even the right one, for 15 minutes
    assert try_password(client, PASSWORD, login="bram") == 302  # others are not locked out


class Clock:
    """`time.time` moved forward at will (the server's clock, for its checks of session age)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        self.offset = 0.0
        real = time.time
        monkeypatch.setattr(time, "time", lambda: real() + self.offset)

    def advance(self, minutes: float) -> None:
        self.offset += minutes * 60


def test_idle_session_expires(app, services, monkeypatch):
    client = app.test_client()
    log_in(client, "amina")
    clock = Clock(monkeypatch)
    clock.advance(29)
    assert client.get("/console/", **HTTPS).status_code == 200
    clock.advance(31)
    assert client.get("/console/", **HTTPS).status_code == 302


def test_a_session_ends_after_8_hours_however_active(app, services, monkeypatch):
    """(issue 14, item 8) An absolute lifetime besides the idle one."""
    client = app.test_client()
    log_in(client, "amina")
    clock = Clock(monkeypatch)
    for _ in range(23):  # a request every 20 minutes, for 7 h 40
        clock.advance(20)
        assert client.get("/console/", **HTTPS).status_code == 200
    clock.advance(21)
    page = client.get("/console/", **HTTPS)
    assert page.status_code == 302 and "/console/login" in page.headers["Location"]


def session_cookie(client) -> str:
    return client.get_cookie("session", domain="localhost").value


def with_cookie(app, value: str):
    client = app.test_client()
    client.set_cookie("session", value, domain="localhost", secure=True)
    return client


def test_logging_out_ends_the_session_in_every_web_process(app, services):
    """(issue 14, item 8) Sessions live in Redis: a copy of the cookie (another web process, or
    someone who kept it) is refused once its owner logged out."""
    other_process = create_app({"TESTING": True}, settings=services.settings)
    client = app.test_client()
    log_in(client, "amina")
    kept = session_cookie(client)
    assert with_cookie(other_process, kept).get("/console/", **HTTPS).status_code == 200
    assert post(client, "/console/logout").status_code == 302
    for process in (app, other_process):
        page = with_cookie(process, kept).get("/console/", **HTTPS)
        assert page.status_code == 302 and "/console/login" in page.headers["Location"]


def test_disabling_an_account_ends_its_sessions_at_once(app, services, redis_server, tmp_path):
    """(issue 14, item 8) `hotline mediators disable`: the next request is refused, and the
    account's sessions are gone from Redis."""
    client = app.test_client()
    log_in(client, "amina")
    assert client.get("/console/", **HTTPS).status_code == 200
    env = {"REDIS_URL": redis_server.url, "HOTLINE_SECRET_KEY": SECRET,
           "HOTLINE_VAR_DIR": str(tmp_path)}
    assert CliRunner().invoke(main, ["mediators", "disable", "amina"], env=env).exit_code == 0
    assert client.get("/console/", **HTTPS).status_code == 302
    assert services.redis.keys("console:session*") == []


def test_security_headers(app, services, client):
    log_in(client, "amina")
    page = client.get("/console/", **HTTPS)
    policy = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert "'unsafe-inline'" not in policy
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Strict-Transport-Security"].startswith("max-age=")
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    html = page.get_data(as_text=True)
    assert "<style" not in html
    stylesheet = re.search(r'<link rel="stylesheet" href="([^"]+)"', html).group(1)
    assert stylesheet == "/console/static/console.css"  # the console blueprint's static folder
    assert client.get(stylesheet).status_code == 200


def test_admin_sees_who_saw_which_number(app, services):
    services.mediators.add("boss", "Boss", ["fr"], "+32470999111", PASSWORD, role="admin")
    ref = waiting_ticket(app, services)
    amina, boss = app.test_client(), app.test_client()
    log_in(amina, "amina")
    post(amina, "/console/take")
    amina.get(f"/console/ticket/{ref}", **HTTPS)
    assert amina.get("/console/admin", **HTTPS).status_code == 403
    log_in(boss, "boss")
    page = boss.get("/console/admin", **HTTPS).get_data(as_text=True)
    assert "saw the number" in page and ref in page and "amina" in page
    assert "470123456" not in page


def test_admin_retries_a_failed_job(app, services, sandbox, twilio_env):
    services.mediators.add("boss", "Boss", ["fr"], "+32470999111", PASSWORD, role="admin")
    services.settings = services.settings.replace(retry_max=0)
    sandbox.fail_next(1, status=503)
    outbox.queue_sms(services, MOBILE, "hello", "admin-retry")
    run_jobs(twilio_env)
    boss = app.test_client()
    log_in(boss, "boss")
    page = boss.get("/console/admin", **HTTPS).get_data(as_text=True)
    assert "sms admin-retry" in page and "Twilio answered 503" in page
    queue = Queue("hotline", connection=services.rq)
    (job_id,) = FailedJobRegistry(queue=queue).get_job_ids()
    post(boss, f"/console/admin/retry/{job_id}", page="/console/admin")
    run_jobs(twilio_env)
    assert [m["body"] for m in sandbox.messages] == ["hello"]


def behind_proxies(services, hops: int):
    """Another web process of the same service, configured with `hops` proxies in front."""
    return create_app({"TESTING": True}, settings=services.settings.replace(proxy_hops=hops))


def test_behind_a_tls_proxy_the_console_sends_hsts(services):
    page = behind_proxies(services, 1).test_client().get(
        "/console/login", headers={"X-Forwarded-Proto": "https"})
    assert page.headers["Strict-Transport-Security"].startswith("max-age=")


def try_from(client, login: str, forwarded: str, password: str = "wrong") -> int:
    token = csrf(client, "/console/login")
    return client.post("/console/login", data={"login": login, "password": password,
                                               "csrf_token": token},
                       headers={**REFERER, "X-Forwarded-For": forwarded}, **HTTPS).status_code


def test_a_forged_x_forwarded_for_does_not_rotate_the_throttled_address(app):
    """(issue 14, item 9) No proxy in front (HOTLINE_PROXY_HOPS=0, the default, even with
    PUBLIC_BASE_URL set): the client's X-Forwarded-For is not believed, so twenty failures from
    one address pause it whatever the header says."""
    client = app.test_client()
    statuses = [try_from(client, f"user{i}", f"10.0.{i}.1") for i in range(21)]
    assert statuses == [401] * 20 + [429]
    assert try_from(client, "bram", "10.9.9.9", password=PASSWORD) == 429


def test_behind_one_proxy_the_address_is_the_one_the_proxy_saw(services):
    """(issue 14, item 9) One proxy appends the address it saw: what the client put before it is
    ignored, and other clients behind the same proxy are not paused."""
    web = behind_proxies(services, 1)
    client = web.test_client()
    statuses = [try_from(client, f"user{i}", f"10.0.{i}.1, 203.0.113.7") for i in range(21)]
    assert statuses == [401] * 20 + [429]
    assert try_from(web.test_client(), "bram", "198.51.100.9", password=PASSWORD) == 302


def test_parallel_wrong_passwords_are_checked_at_most_five_times(app, services):
    """(issue 14, item 9) Twenty wrong passwords sent at once: each is counted before its check,
    so five are checked (401) and fifteen refused unchecked (429)."""
    slow = PasswordHasher(time_cost=8, memory_cost=8192, parallelism=1)  # a check takes ~0.1 s
    services.redis.hset("med:amina", "password", slow.hash(PASSWORD))
    clients = [app.test_client() for _ in range(20)]
    tokens = [csrf(c, "/console/login") for c in clients]
    start = threading.Barrier(len(clients))

    def attempt(i: int) -> int:
        start.wait()
        return clients[i].post("/console/login", data={
            "login": "amina", "password": f"wrong{i}", "csrf_token": tokens[i]},
            headers=REFERER, **HTTPS).status_code

    with ThreadPoolExecutor(len(clients)) as pool:
        statuses = sorted(pool.map(attempt, range(len(clients))))
    assert statuses == [401] * 5 + [429] * 15


@pytest.mark.parametrize("login", ["all", "seen:amina", "phone:x", "a" * 300])
def test_login_names_that_collide_with_internal_keys_are_a_refusal_not_a_500(client, login):
    """(issue 14, item 12)"""
    assert try_password(client, PASSWORD, login=login) == 401


def test_a_next_with_cr_lf_redirects_to_the_queues_not_a_500(client):
    token = csrf(client, "/console/login")
    response = client.post("/console/login?next=/console/%0d%0aSet-Cookie:%20x=1",
                           data={"login": "amina", "password": PASSWORD, "csrf_token": token},
                           headers=REFERER, **HTTPS)
    assert response.status_code == 302
    assert response.headers["Location"] == "/console/"
    assert "x=1" not in response.headers.get("Set-Cookie", "")


def test_the_console_says_so_when_redis_is_down(client, services):
    log_in(client, "amina")
    services._redis = None
    services.settings = services.settings.replace(redis_url="redis://127.0.0.1:1/0")
    page = client.get("/console/", **HTTPS)
    assert page.status_code == 503
    assert "database" in page.get_data(as_text=True)
    assert "Traceback" not in page.get_data(as_text=True)


def test_a_mediator_sees_and_annotates_only_tickets_of_their_languages(app, services):
    """(issue 14, item 10) bram speaks nl and fr: an Arabic ticket is not his (404, as if unknown);
    amina (ar) and an admin of another language see it."""
    services.mediators.add("boss", "Boss", ["nl"], "+32470999111", PASSWORD, role="admin")
    ref, _ = services.callbacks.request("k1", services.privacy.encrypt(MOBILE), "ar", "cpas")
    amina, bram, boss = app.test_client(), app.test_client(), app.test_client()
    for client, login in ((amina, "amina"), (bram, "bram"), (boss, "boss")):
        log_in(client, login)
    page = f"/console/ticket/{ref}"
    assert bram.get(page, **HTTPS).status_code == 404
    assert bram.get("/console/ticket/000000", **HTTPS).status_code == 404
    assert post(bram, f"{page}/note", {"text": "seen"}).status_code == 404
    assert [e["event"] for e in services.callbacks.history(ref)] == ["requested"]
    assert amina.get(page, **HTTPS).status_code == 200
    assert boss.get(page, **HTTPS).status_code == 200
    assert post(amina, f"{page}/note", {"text": "will call"}, page=page).status_code == 302


def test_ticket_references_cannot_be_tried_at_speed(app, services):
    """(issue 14, item 10) Past 20 look-ups that found nothing in 15 minutes, every look-up is
    refused, even of a real ticket (so a hit does not show), but for the tickets one holds."""
    real, _ = services.callbacks.request("k1", services.privacy.encrypt(MOBILE), "fr", "cpas")
    held, _ = services.callbacks.request("k2", services.privacy.encrypt("+32470111222"), "nl",
                                         "cpas")
    services.callbacks.take_next("bram", ["nl"])
    bram = app.test_client()
    log_in(bram, "bram")
    tried = [f"{n:06d}" for n in range(22) if f"{n:06d}" not in (real, held)][:20]
    assert {bram.get(f"/console/ticket/{ref}", **HTTPS).status_code for ref in tried} == {404}
    assert bram.get(f"/console/ticket/{real}", **HTTPS).status_code == 429
    assert bram.get(f"/console/ticket/{held}", **HTTPS).status_code == 200
    amina = app.test_client()  # per mediator: others keep working
    log_in(amina, "amina")
    assert amina.get(f"/console/ticket/{real}", **HTTPS).status_code == 200
