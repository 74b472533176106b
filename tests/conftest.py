"""Shared fixtures: a private real Redis server, the Twilio sandbox, the app and its services.
The helpers they use, and the test settings, are in tests/helpers.py."""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import redis
from flask.testing import FlaskClient
from hypothesis import HealthCheck, settings

from hotline.app import create_app
from hotline.state.store import EmbeddedRedis
from hotline.twilio.sandbox import TwilioSandbox
from tests.helpers import (
    ACCOUNT,
    HOTLINE_NUMBER,
    PUBLIC,
    ROOT,
    SECRET,
    TOKEN,
    add_mediators,
)

# Hypothesis: "ci" runs each property test's full count of examples (tests.helpers.examples),
# "quick" at most 25 of each. `.ci/run` selects "ci" (HYPOTHESIS_PROFILE); otherwise CI=true
# does, and a developer's run is quick.
settings.register_profile("ci", deadline=None, print_blob=True, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
settings.register_profile("quick", settings.get_profile("ci"), max_examples=25)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or (
    "ci" if os.environ.get("CI", "").lower() in ("1", "true", "yes") else "quick"))


def _content_files(root: Path) -> list[tuple[str, int, int]]:
    """Name, modification time and size of every content file under `root`."""
    files = [p for folder in ("ivr_scripts", "sms_templates") for p in (root / folder).glob("*")]
    return sorted((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files)


@pytest.fixture(scope="session", autouse=True)
def shipped_content_loaded_once():
    """Apps and workers built on the shipped content (which no test edits: they edit a copy)
    share one loaded and validated copy of it instead of parsing every YAML file again; an app
    on a content copy loads its own. The loaders themselves are tested on their own."""
    from hotline import services as wiring

    load_content, load_sms_content = wiring.load_content, wiring.load_sms_content
    loaded: dict[str, object] = {}

    def content_once(root):
        if Path(root).resolve() != ROOT:
            return load_content(root)
        if loaded.get("files") != _content_files(ROOT):  # edited during the run: load again
            loaded.clear()
            loaded.update(files=_content_files(ROOT), content=load_content(root))
        return loaded["content"]

    def sms_once(content):
        if content is not loaded.get("content"):
            return load_sms_content(content)
        if "sms" not in loaded:
            loaded["sms"] = load_sms_content(content)
        return loaded["sms"]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(wiring, "load_content", content_once)
        patch.setattr(wiring, "load_sms_content", sms_once)
        yield


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashes():
    """Mediators' passwords are hashed with argon2id at its lowest cost in tests. The production
    cost (argon2-cffi's defaults: 64 MiB, 3 passes) takes 0.1-0.5 s a hash on this machine and
    the console tests make several per test; what they check (an argon2 hash is stored, the
    right password opens, a wrong one is refused and counted) does not depend on the cost, the
    way Django's test settings swap in a fast password hasher."""
    from argon2 import PasswordHasher

    from hotline.console import mediators

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(mediators, "_hasher", PasswordHasher(time_cost=1, memory_cost=8,
                                                           parallelism=1))
        yield


@pytest.fixture(autouse=True)
def empty_audio_cache(request: pytest.FixtureRequest, tmp_path: Path,
                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Outside the audio tests, an app sees an empty audio cache of its own (so it speaks with
    <Say>), never the developer's rendered files."""
    if not request.module.__name__.split(".")[-1].startswith("test_audio"):
        monkeypatch.setenv("HOTLINE_AUDIO_ROOT", str(tmp_path / "audio_cache"))


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory):
    """A real redis-server on a free loopback port, private to this test run."""
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_db(redis_server: EmbeddedRedis) -> redis.Redis:
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    return client


@pytest.fixture(autouse=True)
def deferred_writes_land_within_their_test():
    """The writes a test's apps deferred (hotline.state.deferred) reach Redis before the next
    test empties it, never into the next test's data."""
    yield
    from hotline.state.deferred import DeferredWrites

    for queue in list(DeferredWrites.live):
        with contextlib.suppress(redis.RedisError):
            queue.flush()


Sandbox = TwilioSandbox  # `reset()` forgets what it received between tests


@pytest.fixture(scope="session")
def sandbox_server():
    """One Twilio sandbox for the session (stopping one waits for its server loop's poll)."""
    server = Sandbox(ACCOUNT, TOKEN)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def sandbox(sandbox_server: Sandbox) -> Sandbox:
    """The Twilio sandbox, empty at the start of each test."""
    sandbox_server.reset()
    return sandbox_server


@pytest.fixture
def app(redis_db: redis.Redis, redis_server: EmbeddedRedis, sandbox, tmp_path):
    made = create_app({
        "VAR_DIR": tmp_path / "var",
        "TWILIO_ACCOUNT_SID": ACCOUNT,
        "TWILIO_API_BASE_URL": sandbox.base_url,
        "TWILIO_PHONE_NUMBER": HOTLINE_NUMBER,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "PUBLIC_BASE_URL": PUBLIC,
        "REDIS_URL": redis_server.url,
        "SECRET_KEY": SECRET,
        "RETRY_BASE_SECONDS": 0,  # retries at once: the tests do not wait for backoff
        "TESTING": True,
    })
    made.test_client_class = LandingClient
    return made


class LandingClient(FlaskClient):
    """A test client after whose every request the app's deferred writes have landed (what the
    background thread does within 0.05 s: hotline.state.deferred), so a test reads Redis as it
    will be. tests/test_round_trips.py uses a plain client to see what a request itself sends."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        response = super().open(*args, **kwargs)
        with contextlib.suppress(redis.RedisError):
            self.application.extensions["hotline"].deferred.flush()
        return response


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def services(app):
    """The app's services: content, Redis, callbacks, mediators, privacy keys, its config."""
    return app.extensions["hotline"]


@pytest.fixture
def mediators(services) -> None:
    """Two mediator accounts: amina (fr, ar) and bram (nl, fr); see helpers.add_mediators."""
    add_mediators(services)


@pytest.fixture
def twilio_env(sandbox, redis_server):
    """The environment of a worker serving the app: the same Redis, keys and Twilio sandbox."""
    return {"TWILIO_ACCOUNT_SID": ACCOUNT, "TWILIO_AUTH_TOKEN": TOKEN,
            "TWILIO_API_BASE_URL": sandbox.base_url, "TWILIO_PHONE_NUMBER": HOTLINE_NUMBER,
            "HOTLINE_SECRET_KEY": SECRET, "REDIS_URL": redis_server.url,
            "HOTLINE_RETRY_BASE_SECONDS": "0"}


@pytest.fixture
def content_copy(tmp_path: Path) -> Path:
    """A writable copy of the content folders, to break on purpose."""
    for folder in ("ivr_scripts", "sms_templates"):
        if (ROOT / folder).exists():
            shutil.copytree(ROOT / folder, tmp_path / folder)
    return tmp_path


@pytest.fixture(scope="session")
def english_site_built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A content copy with the offline engine only (espeak-ng), its English prompts rendered
    into its audio_cache/ once for the session. Tests use a copy of it (`english_site`)."""
    from hotline.audio.build import build
    from hotline.content.ivr import load_content
    from tests.test_audio_support import offline_config

    root = tmp_path_factory.mktemp("english-site")
    for folder in ("ivr_scripts", "sms_templates"):
        shutil.copytree(ROOT / folder, root / folder)
    offline_config(root)
    report = build(load_content(root), root / "audio_cache", langs=["en"])
    assert report.failed == [] and report.rendered == {"espeak-ng": report.prompts}
    return root


@pytest.fixture
def english_site(english_site_built: Path, tmp_path: Path) -> Path:
    """A writable copy of `english_site_built` (content and audio cache) for one test."""
    shutil.copytree(english_site_built, tmp_path / "site")
    return tmp_path / "site"
