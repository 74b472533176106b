"""Text-to-speech engines: gTTS (online) and espeak-ng (offline, from the espeakng-loader wheel).

An engine says whether it speaks a language (`voice(lang)`: a voice id, or None) and turns text
into `Speech` (mono float samples at the engine's own rate). It raises `EngineError` when it
cannot; the builder then tries the next engine in the language's order. Which engine speaks which
language is configured in `ivr_scripts/audio.yaml` (see `hotline.audio.config`).
"""

from __future__ import annotations

import ctypes
import fcntl
import io
import random
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import requests
import soundfile

LIBRARY_LOCK = threading.Lock()  # libespeak-ng keeps global state: one synthesis at a time


class EngineError(Exception):
    """An engine could not speak a text (after its retries)."""


@dataclass(frozen=True)
class Speech:
    """Synthesised audio: mono float32 samples in [-1, 1] at `rate` Hz."""

    samples: np.ndarray
    rate: int

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.rate


class Engine(Protocol):
    """What the builder needs from an engine."""

    name: str
    offline: bool

    def voice(self, lang: str, menu: bool = False) -> str | None:
        """The voice id for `lang` (the manifest records it), or None if it cannot speak it;
        `menu`: for a menu's "topic: key" lines, which an engine may speak more briskly."""

    def speak(self, text: str, lang: str, menu: bool = False) -> Speech:
        """`text` spoken in `lang`; raises EngineError."""


# --- espeak-ng, through ctypes on the library that espeakng-loader ships --------------------------

AUDIO_OUTPUT_SYNCHRONOUS = 2
INITIALIZE_DONT_EXIT = 0x8000
CHARS_UTF8 = 1
PARAM_RATE = 1
SYNTH_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


class _Voice(ctypes.Structure):
    _fields_ = [  # ctypes' own convention
        ("name", ctypes.c_char_p), ("languages", ctypes.c_void_p),
        ("identifier", ctypes.c_char_p), ("gender", ctypes.c_ubyte), ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte), ("xx1", ctypes.c_ubyte), ("score", ctypes.c_int),
        ("spare", ctypes.c_void_p),
    ]


class _Espeak:
    """The process's one libespeak-ng, initialised on first use (synchronous output mode)."""

    def __init__(self) -> None:
        import espeakng_loader

        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_ListVoices.argtypes = [ctypes.c_void_p]
        lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_Voice))
        lib.espeak_SetVoiceByProperties.argtypes = [ctypes.POINTER(_Voice)]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [
            ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
            ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        data = espeakng_loader.get_data_path().encode()
        self.rate = lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, data, INITIALIZE_DONT_EXIT)
        if self.rate <= 0:
            raise EngineError(f"espeak-ng did not start (data in {data.decode()})")
        self._chunks: list[bytes] = []
        self._callback = SYNTH_CALLBACK(self._collect)  # kept referenced: C holds a pointer
        lib.espeak_SetSynthCallback(self._callback)
        self.lib = lib
        self.languages = self._languages()

    def _collect(self, wav: Any, count: int, _events: Any) -> int:
        if wav and count > 0:
            self._chunks.append(ctypes.string_at(wav, count * 2))
        return 0

    def _languages(self) -> frozenset[str]:
        """Every language tag a voice declares, lower case (e.g. "fr-be", "fr", "ar")."""
        found: set[str] = set()
        voices = self.lib.espeak_ListVoices(None)
        i = 0
        while voices[i]:
            pointer = voices[i].contents.languages  # (priority byte, tag, NUL) ... then a 0 byte
            while pointer and ctypes.string_at(pointer, 1) != b"\0":
                tag = ctypes.string_at(pointer + 1)
                found.add(tag.decode().lower())
                pointer += len(tag) + 2
            i += 1
        return frozenset(found)

    def synth(self, text: str, language: str, wpm: int) -> np.ndarray:
        """Speak `text` with the voice espeak-ng prefers for the language tag `language`."""
        tag = ctypes.c_char_p(language.lower().encode())
        spec = _Voice(languages=ctypes.cast(tag, ctypes.c_void_p))
        if self.lib.espeak_SetVoiceByProperties(ctypes.byref(spec)) != 0:
            raise EngineError(f"espeak-ng has no voice for {language!r}")
        self.lib.espeak_SetParameter(PARAM_RATE, wpm, 0)
        self._chunks = []
        data = text.encode()
        if self.lib.espeak_Synth(data, len(data) + 1, 0, 0, 0, CHARS_UTF8, None, None) != 0:
            raise EngineError(f"espeak-ng could not speak {text[:40]!r}")
        pcm = np.frombuffer(b"".join(self._chunks), dtype=np.int16)
        return pcm.astype(np.float32) / 32768.0


_espeak: _Espeak | None = None


def _library() -> _Espeak:
    global _espeak
    if _espeak is None:
        _espeak = _Espeak()
    return _espeak


class EspeakEngine:
    """espeak-ng: offline, clear but robotic. `voices` maps our language codes to espeak-ng's
    language tags (e.g. fr -> fr-be); espeak-ng picks its voice for that tag."""

    name = "espeak-ng"
    offline = True

    def __init__(self, voices: dict[str, str] | None = None, rate: int = 150,
                 menu_rate: int | None = None):
        self.voices = voices or {}
        self.rate = rate
        self.menu_rate = menu_rate or rate

    def languages(self) -> frozenset[str]:
        """Every language tag espeak-ng's voices declare."""
        with LIBRARY_LOCK:
            return _library().languages

    def voice(self, lang: str, menu: bool = False) -> str | None:
        name = self.voices.get(lang, lang).lower()
        rate = self.menu_rate if menu else self.rate
        return f"{name}@{rate}wpm" if name in self.languages() else None

    def speak(self, text: str, lang: str, menu: bool = False) -> Speech:
        name = self.voices.get(lang, lang)
        if self.voice(lang) is None:  # espeak-ng would match a prefix: "no-such" is Norwegian
            raise EngineError(f"espeak-ng has no voice for {name!r}")
        with LIBRARY_LOCK:
            library = _library()
            samples = library.synth(text, name, self.menu_rate if menu else self.rate)
            return Speech(samples, library.rate)


# --- gTTS: Google Translate's voice, online --------------------------------------------------


class Throttle:
    """At most one request every `interval` seconds among all processes sharing `path`."""

    def __init__(self, path: Path, interval: float):
        self.path = path
        self.interval = interval

    def wait(self) -> None:
        if self.interval <= 0:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a+") as f:
            fcntl.flock(f, fcntl.LOCK_EX)  # waiters queue here, so the spacing holds for all
            f.seek(0)
            try:
                last = float(f.read().strip() or 0)
            except ValueError:
                last = 0.0
            delay = last + self.interval - time.time()
            if delay > 0:
                time.sleep(delay)
            f.seek(0)
            f.truncate()
            f.write(repr(time.time()))


class GttsEngine:
    """gTTS, with a throttle, and retries with exponential backoff on HTTP 429, 5xx and network
    errors (honouring Retry-After). Returns audio only when every part of the text arrived.

    `tld` is the Google host suffix (translate.google.<tld>); `languages` maps our codes to gTTS's.
    After a prompt has failed every try without reaching the server, the engine reports itself
    unreachable for the rest of the process, so an offline build falls back at once.
    """

    name = "gtts"
    offline = False

    def __init__(
        self, languages: dict[str, str] | None = None, *, tld: str = "com",
        throttle: Throttle | None = None, attempts: int = 4, backoff: float = 1.0,
        timeout: float = 20.0, max_wait: float = 60.0,
    ):
        self.languages = languages or {}
        self.tld = tld
        self.throttle = throttle
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.timeout = timeout
        self.max_wait = max_wait
        self.unreachable = False

    def voice(self, lang: str, menu: bool = False) -> str | None:
        from gtts.lang import tts_langs

        code = self.languages.get(lang, lang)
        if code not in tts_langs():
            return None
        return code if self.tld == "com" else f"{code}@{self.tld}"

    def speak(self, text: str, lang: str, menu: bool = False) -> Speech:
        from gtts import gTTS, gTTSError

        if self.unreachable:
            raise EngineError("gTTS was unreachable earlier in this run")
        code = self.languages.get(lang, lang)
        reached, problem, wait = False, "no try", 0.0
        for attempt in range(self.attempts):
            if attempt:
                time.sleep(min(wait, self.max_wait))
            if self.throttle:
                self.throttle.wait()
            tts = gTTS(text, lang=code, tld=self.tld, lang_check=False,
                       timeout=(min(5.0, self.timeout), self.timeout))
            backoff = self.backoff * 2 ** attempt * random.uniform(0.8, 1.2)
            try:
                parts = list(tts.stream())  # one MP3 per request: all of them, or an exception
            except gTTSError as exc:
                status = exc.rsp.status_code if exc.rsp is not None else None
                # gTTS raises from inside its `except`: the cause is the exception's context.
                reached = reached or status is not None or not isinstance(
                    exc.__context__, requests.ConnectionError)
                if status is not None and status != 429 and status < 500:
                    raise EngineError(f"gTTS: {exc}") from exc
                problem = str(exc)
                wait = _retry_after(exc.rsp) or backoff
                continue
            except requests.RequestException as exc:  # the answer broke off mid-way
                reached = True
                problem = f"{exc.__class__.__name__}: {exc}"
                wait = backoff
                continue
            return _decode_mp3(parts)
        if not reached:
            self.unreachable = True
        raise EngineError(f"gTTS failed {self.attempts} times: {problem}")


def _retry_after(response: requests.Response | None) -> float | None:
    value = response.headers.get("Retry-After") if response is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _decode_mp3(parts: list[bytes]) -> Speech:
    """Decode each MP3 part on its own (a part's Xing header would cut a concatenation short)."""
    if not parts:
        raise EngineError("gTTS answered without audio")
    pieces, rate = [], 0
    for part in parts:
        try:
            samples, part_rate = soundfile.read(io.BytesIO(part), dtype="float32", always_2d=True)
        except (soundfile.LibsndfileError, RuntimeError) as exc:
            raise EngineError(f"gTTS sent audio that does not decode: {exc}") from exc
        if rate and part_rate != rate:
            raise EngineError("gTTS sent parts at different sample rates")
        rate = part_rate
        pieces.append(samples.mean(axis=1))
    speech = Speech(np.concatenate(pieces), rate)
    if speech.seconds < 0.05:
        raise EngineError("gTTS sent (almost) no audio")
    return speech
