"""Human recordings: they override every engine, and a stale one is reported and never played."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile
import soxr

from hotline.audio.build import build, file_name, read_manifest
from hotline.audio.config import load_audio_config, make_engines
from hotline.audio.engines import EspeakEngine
from hotline.audio.library import RECORDING, AudioLibrary, find_recordings, text_id
from hotline.audio.status import language_status
from hotline.content.ivr import load_content
from tests.test_audio_support import check_telephone_wav, offline_config, set_prompt


def record(root: Path, lang: str, key: str, text: str | None, voice: str = "en-gb") -> Path:
    """What a CSO drops in: a 44.1 kHz stereo 16-bit WAV, with the text it read in a sidecar."""
    speech = EspeakEngine({lang: voice}, rate=130).speak(text or "Hello.", lang)
    samples = soxr.resample(speech.samples, speech.rate, 44100)
    folder = root / "audio_cache" / "recordings" / lang
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{key}.wav"
    soundfile.write(path, np.stack([samples, samples], axis=1), 44100, subtype="PCM_16")
    if text is not None:
        (folder / f"{key}.txt").write_text(f"{text}\n", encoding="utf-8")
    return path


@pytest.fixture
def fresh_site(content_copy):
    """A content copy with the offline engine only, nothing rendered yet."""
    offline_config(content_copy)
    return content_copy


@pytest.fixture
def site(english_site):
    """A content copy with the offline engine only, its English prompts already rendered: where
    a CSO's recordings arrive (the first test covers a first build with a recording in it)."""
    return english_site


def build_en(root: Path):
    return build(load_content(root), root / "audio_cache", langs=["en"])


def status_en(root: Path):
    config = load_audio_config(root)
    audio = root / "audio_cache"
    rows = language_status(load_content(root), audio, config, make_engines(config, audio))
    return next(r for r in rows if r.lang == "en")


def test_a_recording_plays_instead_of_the_rendered_file(fresh_site):
    site = fresh_site
    welcome = load_content(site).text("en", "welcome")
    source = record(site, "en", "welcome", welcome)
    report = build_en(site)
    assert report.converted == 1 and report.stale == []
    audio = site / "audio_cache"
    entry = next(e for e in read_manifest(audio).values() if e["text"] == welcome)
    assert entry["engine"] == RECORDING and entry["source"] == "recordings/en/welcome.wav"
    assert entry["rendered"]["engine"] == "espeak-ng"  # kept as the fallback
    played = AudioLibrary(audio).find("en", welcome)
    assert played == entry["file"] != entry["rendered"]["file"]
    info = check_telephone_wav(audio / played, welcome)  # 44.1 kHz stereo became 8 kHz mono
    assert info.seconds == pytest.approx(soundfile.info(source).duration, abs=0.5)
    row = status_en(site)
    assert (row.recorded, row.stale, row.missing) == (1, [], 0)
    assert row.rendered == row.prompts


def test_a_converted_recording_is_not_converted_again_but_a_new_take_is(site):
    welcome = load_content(site).text("en", "welcome")
    record(site, "en", "welcome", welcome)
    first = AudioLibrary(site / "audio_cache")
    build_en(site)
    name = first.find("en", welcome)
    assert build_en(site).converted == 0
    record(site, "en", "welcome", welcome, voice="en-us")  # a second take of the same text
    assert build_en(site).converted == 1
    new = first.find("en", welcome)
    assert new and new != name  # a new name: Twilio's cached copy of the old take is never used


def test_a_recording_of_an_older_text_is_stale_and_the_rendered_file_plays(site):
    old = load_content(site).text("en", "headline")
    record(site, "en", "headline", old)
    build_en(site)
    set_prompt(site, "en", "headline", "The main menu.")
    report = build_en(site)
    assert [r.source for r in report.stale] == ["recordings/en/headline.wav"]
    assert any("stale recording" in line for line in report.lines())
    audio = site / "audio_cache"
    entry = next(e for e in read_manifest(audio).values() if e["text"] == "The main menu.")
    assert entry["engine"] == "espeak-ng"
    assert AudioLibrary(audio).find("en", "The main menu.") == entry["file"]
    row = status_en(site)
    assert (row.recorded, len(row.stale)) == (0, 1)


def test_a_recording_without_its_text_is_never_played(site):
    record(site, "en", "goodbye", None)
    report = build_en(site)
    assert [(r.source, r.text) for r in report.stale] == [("recordings/en/goodbye.wav", None)]
    goodbye = load_content(site).text("en", "goodbye")
    entry = next(e for e in read_manifest(site / "audio_cache").values() if e["text"] == goodbye)
    assert entry["engine"] == "espeak-ng"


def test_a_deleted_recording_falls_back_to_the_rendered_file_at_once(site):
    welcome = load_content(site).text("en", "welcome")
    source = record(site, "en", "welcome", welcome)
    build_en(site)
    library = AudioLibrary(site / "audio_cache")
    entry = next(e for e in read_manifest(site / "audio_cache").values() if e["text"] == welcome)
    assert library.find("en", welcome) == entry["file"]
    source.unlink()
    assert library.find("en", welcome) == entry["rendered"]["file"]  # no build needed
    build_en(site)
    assert read_manifest(site / "audio_cache")[text_id("en", welcome)]["engine"] == "espeak-ng"


def test_a_recording_that_does_not_decode_is_reported_and_the_rendered_file_plays(site):
    welcome = load_content(site).text("en", "welcome")
    folder = site / "audio_cache" / "recordings" / "en"
    folder.mkdir(parents=True)
    (folder / "welcome.wav").write_bytes(b"RIFF....WAVEjunk")
    (folder / "welcome.txt").write_text(welcome)
    report = build_en(site)
    assert len(report.failed) == 1 and "recordings/en/welcome.wav" in report.failed[0]
    played = AudioLibrary(site / "audio_cache").find("en", welcome)
    assert played == file_name(welcome, "espeak-ng", "en@150wpm")


def test_sidecar_text_is_compared_without_caring_about_spacing(site):
    welcome = load_content(site).text("en", "welcome")
    record(site, "en", "welcome", welcome.replace(". ", ".\n\n  "))
    (recording,) = find_recordings(site / "audio_cache")
    assert recording.matches(welcome) and not recording.matches(welcome + " Bye.")
    assert build_en(site).converted == 1
