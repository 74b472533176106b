"""A person's take of a prompt, as a phone or a browser makes it: decoded whatever its format,
kept as the prompt's recording with its sidecar, trimmed, loudness-normalised, played at once."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import av
import numpy as np
import pyloudnorm
import pytest
import soundfile

from hotline.audio.build import LOUDNESS, RATE, read_manifest
from hotline.audio.config import load_audio_config
from hotline.audio.engines import EspeakEngine, Speech
from hotline.audio.library import MANIFEST, RECORDING, AudioLibrary, text_id
from hotline.audio.takes import TakeError, decode, numbered, prompt_named, store_take
from hotline.content.ivr import load_content
from tests.test_audio_support import check_telephone_wav

# (container, codec, file suffix): what phones and browsers produce.
FORMATS = [("mp3", "libmp3lame", "mp3"), ("ogg", "libopus", "ogg"), ("ipod", "aac", "m4a"),
           ("webm", "libopus", "webm"), ("wav", "pcm_s16le", "wav")]


def speech(text: str, rate: int = 48000, level: float = 0.3, pad: float = 0.0) -> Speech:
    """`text` said by espeak-ng at `rate` Hz, peaking at `level`, with `pad` seconds of quiet
    hiss before and after: a person's take in a room."""
    said = EspeakEngine({"en": "en-gb"}, rate=140).speak(text, "en")
    import soxr

    samples = soxr.resample(said.samples, said.rate, rate) if said.rate != rate else said.samples
    samples = samples / np.abs(samples).max() * level
    hiss = np.random.default_rng(1).normal(0, level / 200, int(pad * rate)).astype(np.float32)
    return Speech(np.concatenate([hiss, samples, hiss]).astype(np.float32), rate)


def encode(take: Speech, container: str = "webm", codec: str = "libopus") -> bytes:
    """`take` encoded as a phone or a browser would, with PyAV."""
    buffer = io.BytesIO()
    rate = 48000 if codec == "libopus" else take.rate
    with av.open(buffer, "w", format=container) as out:
        stream = out.add_stream(codec, rate=rate)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(take.samples.reshape(1, -1).astype(np.float32),
                                           format="flt", layout="mono")
        frame.sample_rate = take.rate
        resampler = av.AudioResampler(format=stream.codec_context.format.name, layout="mono",
                                      rate=rate)
        for chunk in [*resampler.resample(frame), *resampler.resample(None)]:
            for packet in stream.encode(chunk):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buffer.getvalue()


def welcome_of(site: Path):
    content = load_content(site)
    return content, prompt_named(content, "en", "welcome")


@pytest.mark.parametrize(("container", "codec", "suffix"), FORMATS)
def test_a_take_in_any_phone_format_becomes_the_recording_that_plays(english_site, container, codec,
                                                                     suffix):
    site = english_site
    content, prompt = welcome_of(site)
    audio = site / "audio_cache"
    library = AudioLibrary(audio)
    rendered = library.find("en", prompt.text)
    result = store_take(content, audio, load_audio_config(site), prompt,
                        encode(speech(prompt.text), container, codec))
    assert result.converted
    entry = read_manifest(audio)[text_id("en", prompt.text)]
    assert entry["engine"] == RECORDING and entry["source"] == "recordings/en/welcome.flac"
    assert entry["rendered"]["file"] == rendered  # the engine's file stays as the fallback
    played = library.find("en", prompt.text)  # the same library object: it re-read the manifest
    assert played == entry["file"] != rendered
    check_telephone_wav(audio / played, prompt.text)
    folder = audio / "recordings" / "en"
    assert (folder / "welcome.txt").read_text(encoding="utf-8") == prompt.text + "\n"
    assert sorted(p.name for p in folder.glob("welcome.*")) == ["welcome.flac", "welcome.txt"]


def test_a_new_take_replaces_the_old_whatever_its_format(english_site):
    site = english_site
    content, prompt = welcome_of(site)
    audio = site / "audio_cache"
    folder = audio / "recordings" / "en"
    folder.mkdir(parents=True)
    soundfile.write(folder / "welcome.wav", speech(prompt.text).samples, 48000)
    (folder / "welcome.txt").write_text(prompt.text, encoding="utf-8")
    first = store_take(content, audio, load_audio_config(site), prompt,
                       encode(speech(prompt.text, level=0.5)))
    second = store_take(content, audio, load_audio_config(site), prompt,
                        encode(speech(prompt.text, level=0.2), "mp3", "libmp3lame"))
    assert first.entry["file"] != second.entry["file"]
    assert AudioLibrary(audio).find("en", prompt.text) == second.entry["file"]
    assert sorted(p.name for p in folder.glob("welcome.*")) == ["welcome.flac", "welcome.txt"]


def test_a_take_is_trimmed_and_brought_to_the_same_loudness(english_site):
    site = english_site
    content, prompt = welcome_of(site)
    audio = site / "audio_cache"
    config = load_audio_config(site)
    said = speech(prompt.text)
    loudness = []
    for level in (0.05, 0.9):  # whispered far from the phone, or shouted into it
        result = store_take(content, audio, config, prompt,
                            encode(speech(prompt.text, level=level, pad=1.5), "wav", "pcm_s16le"))
        samples, rate = soundfile.read(audio / result.entry["file"], dtype="float64")
        assert rate == RATE
        # 1.5 s of silence on each side trimmed to the 0.1 s pads
        assert len(samples) / rate == pytest.approx(said.seconds + 0.2, abs=0.15)
        loudness.append(pyloudnorm.Meter(RATE).integrated_loudness(samples))
        assert np.abs(samples).max() <= 0.9
    # equally loud (the peak may hold a take a little under the target), not 25 dB apart
    assert abs(loudness[0] - loudness[1]) < 1
    assert all(LOUDNESS - 2 < measured < LOUDNESS + 0.5 for measured in loudness), loudness


def test_what_cannot_be_a_take_is_refused_and_nothing_is_replaced(english_site):
    site = english_site
    content, prompt = welcome_of(site)
    audio = site / "audio_cache"
    config = load_audio_config(site)
    before = read_manifest(audio)
    silence = Speech(np.zeros(48000, np.float32), 48000)
    for data in (b"", b"not a sound at all" * 100, os.urandom(5000), encode(silence, "wav",
                                                                             "pcm_s16le")):
        with pytest.raises(TakeError):
            store_take(content, audio, config, prompt, data)
    assert read_manifest(audio) == before
    assert not (audio / "recordings" / "en" / "welcome.flac").exists()


def test_a_file_that_decodes_to_more_than_the_limit_stops_while_decoding():
    long_take = encode(Speech(np.full(48000 * 5, 0.1, np.float32), 48000), "wav", "pcm_s16le")
    assert decode(long_take).seconds == pytest.approx(5, abs=0.05)
    with pytest.raises(TakeError, match="longer than 4 seconds"):
        decode(long_take, max_seconds=4)


def test_prompts_are_numbered_as_the_script_lists_them(content_copy, monkeypatch):
    from click.testing import CliRunner

    from hotline.audio.cli import audio

    monkeypatch.setenv("HOTLINE_CONTENT_ROOT", str(content_copy))
    content = load_content(content_copy)
    printed = CliRunner().invoke(audio, ["script", "--lang", "fr"]).output.splitlines()
    numbers = numbered(content, "fr")
    assert len(printed) == len(numbers) > 50
    for line, (number, prompt) in zip(printed, numbers, strict=True):
        assert line == f"{number:>3}  {prompt.keys[0]}: {prompt.text}"


def test_the_library_sees_a_manifest_replaced_within_one_tick_of_the_clock(tmp_path):
    """Two builds (or a build and a take) can replace the manifest within the file system's
    timestamp granularity: every web process must still play the newer one."""
    def write(files: dict) -> None:
        (tmp_path / "a.wav").write_bytes(b"x")
        (tmp_path / "b.wav").write_bytes(b"x")
        new = tmp_path / "manifest.new"
        new.write_text(json.dumps({"version": 1, "files": files}))
        os.utime(new, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
        os.replace(new, tmp_path / MANIFEST)

    key = text_id("en", "Hello.")
    write({key: {"file": "a.wav", "lang": "en", "text": "Hello."}})
    library = AudioLibrary(tmp_path)
    assert library.find("en", "Hello.") == "a.wav"
    write({key: {"file": "b.wav", "lang": "en", "text": "Hello.", "engine": "x"}})
    assert library.find("en", "Hello.") == "b.wav"
