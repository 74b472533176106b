"""Rendering on RQ workers, and the running web picking up the new manifest without a restart."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner
from rq import Queue, SimpleWorker, Worker

from hotline.app import create_app
from hotline.audio.build import read_manifest
from hotline.audio.cli import audio
from hotline.content.ivr import load_content
from tests.helpers import PUBLIC, SECRET, TOKEN, spoken
from tests.test_audio_support import check_telephone_wav, offline_config, set_prompt
from workers.audio import QUEUE, queue_rebuild


@pytest.mark.slow
def test_a_rebuild_job_changes_what_the_running_web_plays(content_copy, redis_db, redis_server):
    offline_config(content_copy)
    audio_root = content_copy / "audio_cache"
    settings = {"TWILIO_AUTH_TOKEN": TOKEN, "PUBLIC_BASE_URL": PUBLIC, "SECRET_KEY": SECRET,
                "REDIS_URL": redis_server.url, "CONTENT_ROOT": content_copy,
                "AUDIO_ROOT": audio_root, "TESTING": True}
    app = create_app(settings)
    assert {verb for verb, _ in spoken(app, "/voice")} == {"Say"}  # nothing rendered yet

    job = queue_rebuild(redis_db, str(content_copy), str(audio_root), ["en"])
    SimpleWorker([Queue(QUEUE, connection=redis_db)], connection=redis_db).work(burst=True)
    assert job.get_status(refresh=True) == "finished", job.latest_result()
    assert "rendered" in " ".join(job.return_value())

    heard = spoken(app, "/voice")  # the same app object: no restart
    english = load_content(content_copy).text("en", "language_option", digit="3")
    # English plays its file; Dari and Tigrinya, with no audio yet and no Twilio voice, are not
    # offered at all (never another language in their place), nor Pashto; Russian (8) and the
    # second page's Turkish, Spanish and Romanian (9) have a Twilio voice
    assert [verb for verb, _ in heard] == ["Say", "Say", "Play", "Say", "Say", "Say", "Say", "Say",
                                           "Say"]
    url = heard[2][1]
    entry = next(e for e in read_manifest(audio_root).values() if e["text"] == english)
    assert url.endswith(f"/audio/{entry['file']}") and url.startswith("http")  # absolute
    served = app.test_client().get(urlsplit(url).path)
    assert served.status_code == 200 and served.mimetype in ("audio/x-wav", "audio/wav")
    (Path(content_copy) / "served.wav").write_bytes(served.get_data())
    check_telephone_wav(Path(content_copy) / "served.wav", english)

    # An edit, another job: the web (still on its old text) keeps its file until a prune.
    set_prompt(content_copy, "en", "language_option", "English: press {digit}.")
    queue_rebuild(redis_db, str(content_copy), str(audio_root), ["en"])
    SimpleWorker([Queue(QUEUE, connection=redis_db)], connection=redis_db).work(burst=True)
    assert spoken(app, "/voice")[2] == ("Play", url)
    edited = create_app(settings)  # the web restarted: it reads the edited text
    new_url = spoken(edited, "/voice")[2]
    assert new_url[0] == "Play" and new_url[1] != url


@pytest.fixture
def worker(redis_server, redis_db):
    """A real `rq worker` process on the test Redis, serving the hotline queue."""
    rq = Path(sys.executable).parent / "rq"
    process = subprocess.Popen([str(rq), "worker", "--url", redis_server.url, QUEUE],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while not Worker.count(connection=redis_db) and time.monotonic() < deadline:
        time.sleep(0.1)
    yield process
    process.terminate()
    process.wait(timeout=20)


@pytest.mark.slow
def test_build_through_rq_workers(content_copy, redis_server, worker):
    offline_config(content_copy)
    set_prompt(content_copy, "fr", "headline", "Le menu principal.")
    env = {"HOTLINE_CONTENT_ROOT": str(content_copy), "REDIS_URL": redis_server.url}
    result = CliRunner().invoke(audio, ["build", "--rq", "--lang", "fr"], env=env,
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    content = load_content(content_copy)
    manifest = read_manifest(content_copy / "audio_cache")
    assert len(manifest) > 50 and {e["lang"] for e in manifest.values()} == {"fr"}
    assert f"rendered {len(manifest)} with espeak-ng" in result.output
    entry = next(e for e in manifest.values() if e["keys"] == ["headline"])
    assert entry["text"] == content.text("fr", "headline") == "Le menu principal."
    check_telephone_wav(content_copy / "audio_cache" / entry["file"], entry["text"])


def test_build_through_rq_says_when_no_worker_listens(content_copy, redis_server, redis_db):
    offline_config(content_copy)
    env = {"HOTLINE_CONTENT_ROOT": str(content_copy), "REDIS_URL": redis_server.url}
    result = CliRunner().invoke(audio, ["build", "--rq", "--lang", "en"], env=env)
    assert result.exit_code == 1 and "no RQ worker serves the 'hotline' queue" in result.output
