"""The offline engine: real espeak-ng synthesis, and the telephone format it ends up in."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

from hotline.audio.build import FORMAT, RATE, file_name, to_telephone, write_wav
from hotline.audio.engines import EngineError, EspeakEngine, Speech
from tests.test_audio_support import check_telephone_wav

SAMPLES = {
    "fr": "Pour le CPAS, le centre public d'action sociale, appuyez sur 1.",
    "nl": "Voor het OCMW, druk op 1.",
    "en": "In an emergency, hang up and call 112.",
    "ar": "في حالة الطوارئ، أغلق الخط واتصل بالرقم 112.",
}


@pytest.fixture(scope="module")
def espeak() -> EspeakEngine:
    return EspeakEngine({"fr": "fr-be", "en": "en-gb"}, rate=150)


def test_espeak_speaks_our_four_languages_and_says_which_voice(espeak):
    assert espeak.voice("fr") == "fr-be@150wpm"
    assert espeak.voice("en") == "en-gb@150wpm"
    assert espeak.voice("nl") == "nl@150wpm" and espeak.voice("ar") == "ar@150wpm"
    # And the languages of issue 4: Tigrinya and Ukrainian yes, Dari through Persian.
    assert {"ti", "uk", "fa"} <= espeak.languages()


@pytest.mark.parametrize("lang", ["ps", "so", "xx"])
def test_languages_espeak_lacks_have_no_voice(espeak, lang):
    assert espeak.voice(lang) is None  # Pashto, Somali: these need human recordings


@pytest.mark.parametrize("lang", sorted(SAMPLES))
def test_real_synthesis_becomes_a_telephone_wav(espeak, tmp_path, lang):
    speech = espeak.speak(SAMPLES[lang], lang)
    assert speech.rate == 22050 and 1.0 < speech.seconds < 10
    path = tmp_path / file_name(SAMPLES[lang], "espeak-ng", espeak.voice(lang) or "")
    write_wav(path, to_telephone(speech))
    info = check_telephone_wav(path, SAMPLES[lang])
    assert abs(info.seconds - speech.seconds) < 1.0  # only silence was trimmed
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left
    assert path.stat().st_mode & 0o044 == 0o044  # readable by a web server of another user


def test_the_file_holds_the_speech_not_just_a_valid_header(espeak, tmp_path):
    samples = to_telephone(espeak.speak(SAMPLES["en"], "en"))
    write_wav(tmp_path / "x.wav", samples)
    decoded, _ = soundfile.read(tmp_path / "x.wav", dtype="float32")
    assert len(decoded) == len(samples)
    assert np.corrcoef(decoded, samples)[0, 1] > 0.995  # mu-law is ~38 dB SNR: nearly equal
    assert 0.85 < float(np.abs(decoded).max()) < 0.95  # normalised to -1 dBFS


def test_a_faster_rate_is_shorter_and_another_file(tmp_path):
    slow, fast = EspeakEngine(rate=120), EspeakEngine(rate=240)
    text = SAMPLES["en"]
    assert fast.speak(text, "en").seconds < 0.75 * slow.speak(text, "en").seconds
    assert file_name(text, "espeak-ng", slow.voice("en") or "") != file_name(
        text, "espeak-ng", fast.voice("en") or "")


def test_an_unknown_voice_is_an_error_not_another_language():
    with pytest.raises(EngineError, match="no voice for"):
        EspeakEngine({"fr": "no-such-voice"}).speak("Bonjour", "fr")


def test_file_names_hash_text_engine_voice_and_format():
    base = file_name("Bonjour.", "espeak-ng", "fr-be@150wpm")
    assert base.endswith(".wav") and len(base) == 36
    assert base == file_name("Bonjour.", "espeak-ng", "fr-be@150wpm", FORMAT)
    others = {file_name("Bonjour !", "espeak-ng", "fr-be@150wpm"),
              file_name("Bonjour.", "gtts", "fr-be@150wpm"),
              file_name("Bonjour.", "espeak-ng", "fr@150wpm"),
              file_name("Bonjour.", "espeak-ng", "fr-be@150wpm", "mp3-32k")}
    assert base not in others and len(others) == 4


def test_silence_is_refused():
    with pytest.raises(EngineError, match="silent"):
        to_telephone(Speech(np.zeros(RATE, dtype=np.float32), RATE))


def test_menu_lines_can_be_spoken_more_briskly_than_information():
    engine = EspeakEngine(rate=150, menu_rate=175)
    text = "Interpreters, courses: 7."
    assert engine.voice("en") == "en@150wpm" and engine.voice("en", menu=True) == "en@175wpm"
    assert engine.speak(text, "en", menu=True).seconds < 0.92 * engine.speak(text, "en").seconds
    assert EspeakEngine(rate=150).voice("en", menu=True) == "en@150wpm"  # none set: one rate
