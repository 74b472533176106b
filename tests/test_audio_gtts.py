"""The gTTS engine against a local stub of Google's endpoint: real gTTS, real HTTP(S), no mocks.

gTTS builds its URL as https://translate.google.<tld>/...; a tld of "com@127.0.0.1:PORT" makes
that https://translate.google.com@127.0.0.1:PORT/..., i.e. the stub (gTTS does not verify TLS).
"""

from __future__ import annotations

import itertools
import re

import pytest

from hotline.audio.build import FORMAT, Prompt, Task, run_task
from hotline.audio.engines import EngineError, EspeakEngine, GttsEngine, Throttle
from tests.test_audio_support import STUB_SECONDS_PER_CHAR, GoogleStub, check_telephone_wav

SHORT = "Bienvenue sur la ligne d'information."
LONG = ("L'aide médicale urgente est pour les personnes sans séjour légal qui ne peuvent pas "
        "payer leurs soins. Demandez-la au CPAS de la commune où vous vivez, avant les soins si "
        "possible.")


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    """gTTS sends through any proxy in the environment; the stub is local."""
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY",
                 "all_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def stub(tmp_path):
    server = GoogleStub().start(tmp_path)
    yield server
    server.stop()


def engine(stub: GoogleStub, **settings) -> GttsEngine:
    return GttsEngine({"fr": "fr"}, tld=stub.tld, **{"backoff": 0.05, "timeout": 2.0, **settings})


def test_speaks_through_the_http_boundary(stub):
    speech = engine(stub).speak(SHORT, "fr")
    assert [(s.text, s.lang) for s in stub.seen] == [(SHORT, "fr")]
    assert speech.rate == 24000
    assert speech.seconds == pytest.approx(len(SHORT) * STUB_SECONDS_PER_CHAR, abs=0.15)


def test_a_long_text_arrives_whole_even_when_a_later_part_fails_once(stub):
    stub.script = ["ok", 503]  # gTTS splits > 100 characters: the second request fails once
    speech = engine(stub).speak(LONG, "fr")
    parts = [s.text for s in stub.seen]
    assert len(parts) > 4 and parts[2:4] == parts[:2]  # all parts again, from the first one
    assert re.sub(r"\W", "", "".join(parts[2:])) == re.sub(r"\W", "", LONG)  # every word
    spoken = sum(len(p) for p in parts[2:]) * STUB_SECONDS_PER_CHAR
    assert speech.seconds == pytest.approx(spoken, abs=0.3)


def test_429_is_retried_after_the_servers_retry_after(stub):
    stub.script, stub.retry_after = [429], "1"
    engine(stub).speak(SHORT, "fr")
    first, second = stub.seen
    assert second.at - first.at >= 0.95


def test_429_without_retry_after_backs_off_exponentially(stub):
    stub.script = [429, 429, 429]
    engine(stub, backoff=0.2, attempts=4).speak(SHORT, "fr")
    gaps = [b.at - a.at for a, b in itertools.pairwise(stub.seen)]
    assert len(gaps) == 3
    assert gaps[0] >= 0.15 and gaps[1] >= 0.3 and gaps[2] >= 0.6  # 0.2, 0.4, 0.8 (+-20 %)


def test_a_timeout_is_retried(stub):
    stub.script = [("sleep", 1.5)]
    speech = engine(stub, timeout=0.5).speak(SHORT, "fr")
    assert len(stub.seen) == 2 and speech.seconds > 1


def test_always_timing_out_gives_up_without_marking_the_server_unreachable(stub):
    stub.script = [("sleep", 1.0)] * 2
    gtts = engine(stub, timeout=0.3, attempts=2)
    with pytest.raises(EngineError, match="failed 2 times"):
        gtts.speak(SHORT, "fr")
    assert not gtts.unreachable  # it answered, slowly: the next prompt tries again


def test_other_client_errors_and_answers_without_audio_are_not_retried(stub):
    stub.script = [403, "no-audio", "not-mp3"]
    gtts = engine(stub)
    for expected in ("403", "No audio stream", "does not decode"):
        with pytest.raises(EngineError, match=expected):
            gtts.speak(SHORT, "fr")
    assert len(stub.seen) == 3


def test_the_throttle_spaces_requests_across_engines_sharing_its_file(stub, tmp_path):
    throttle = Throttle(tmp_path / "throttle", 0.3)
    first, second = engine(stub, throttle=throttle), engine(stub, throttle=throttle)
    for gtts in (first, second, first):
        gtts.speak(SHORT, "fr")
    times = [s.at for s in stub.seen]
    assert all(b - a >= 0.2 for a, b in itertools.pairwise(times))  # 0.3 s, less arrival jitter


def test_an_unreachable_server_is_given_up_for_the_rest_of_the_run(tmp_path):
    gtts = GttsEngine(tld="com@127.0.0.1:9", attempts=2, backoff=0.01, timeout=1)  # port 9: closed
    with pytest.raises(EngineError, match="Failed to connect"):
        gtts.speak(SHORT, "fr")
    assert gtts.unreachable
    with pytest.raises(EngineError, match="unreachable earlier"):
        gtts.speak(SHORT, "fr")


def test_languages_gtts_lacks_have_no_voice():
    gtts = GttsEngine({"prs": "fa-AF"})
    assert gtts.voice("fr") == "fr" and gtts.voice("ar") == "ar"
    assert gtts.voice("ps") is None and gtts.voice("so") is None and gtts.voice("prs") is None


def task(voice: str) -> Task:
    return Task(Prompt("fr", ("welcome",), SHORT), (("gtts", voice), ("espeak-ng", "fr@150wpm")))


def test_a_failed_render_leaves_no_file_and_the_fallback_engine_speaks(stub, tmp_path):
    stub.script = [429] * 3
    gtts = engine(stub, attempts=3)
    engines = {"gtts": gtts, "espeak-ng": EspeakEngine()}
    result = run_task(task(gtts.voice("fr") or ""), tmp_path, engines)
    assert result.rendered_by == "espeak-ng" and not result.errors
    assert "gtts" in (result.fallback or "") and "429" in (result.fallback or "")
    assert result.entry is not None and result.entry["format"] == FORMAT
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".wav") == [
        result.entry["file"]]  # the espeak-ng file only: nothing of gTTS's failure
    check_telephone_wav(tmp_path / result.entry["file"], SHORT)


def test_when_every_engine_fails_nothing_is_written(stub, tmp_path):
    stub.script = [500] * 2
    result = run_task(Task(Prompt("fr", ("welcome",), SHORT), (("gtts", "fr"),)), tmp_path,
                      {"gtts": engine(stub, attempts=2)})
    assert result.entry is None and result.rendered_by is None
    assert "500" in result.errors[0]
    assert [p.name for p in tmp_path.iterdir() if p.name != "stub.pem"] == []


def test_a_gtts_render_is_a_telephone_wav(stub, tmp_path):
    gtts = engine(stub)
    result = run_task(task(gtts.voice("fr") or ""), tmp_path, {"gtts": gtts})
    assert result.rendered_by == "gtts" and result.entry is not None
    info = check_telephone_wav(tmp_path / result.entry["file"], SHORT)
    assert info.seconds == pytest.approx(len(SHORT) * STUB_SECONDS_PER_CHAR, abs=0.3)
