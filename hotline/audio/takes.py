"""A person's recording of one prompt ("a take"), from whatever a phone or a browser produced:
decoded (PyAV, which bundles FFmpeg's codecs: WAV, MP3, OGG, M4A, WebM/Opus…), kept as the
prompt's recording with its text sidecar, and converted for the line at once.

A take is stored as `recordings/<lang>/<prompt key>.flac` (mono, lossless, at the rate it was
made), replacing any earlier take of that prompt whatever its format, beside
`<prompt key>.txt`, the exact text it speaks. It is then converted into the telephone format
(trimmed, loudness-normalised: `hotline.audio.build.to_telephone`) and listed in the manifest, so
every web process plays it from the next call on (`AudioLibrary` re-reads a changed manifest).
"""

from __future__ import annotations

import fcntl
import io
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soundfile

from hotline.audio.build import (
    TMP_PREFIX,
    Prompt,
    Result,
    make_plan,
    prompts_of,
    run_task,
    update_manifest,
)
from hotline.audio.config import AudioConfig, make_engines
from hotline.audio.engines import Speech
from hotline.audio.library import RECORDING_TYPES, RECORDINGS, SIDECAR
from hotline.content.ivr import Content

MAX_SECONDS = 180  # a prompt is a few sentences; this bounds what a small file may decode to
MIN_SECONDS = 0.3
LOCK = ".takes.lock"


class TakeError(ValueError):
    """The audio cannot be a recording of the prompt (unreadable, silent, too long…)."""


def decode(data: bytes, max_seconds: float = MAX_SECONDS) -> Speech:
    """The first audio stream of `data` (any container and codec FFmpeg reads), mixed to mono.
    Raises TakeError when it has none, cannot be decoded, or plays longer than `max_seconds`
    (checked while decoding, so a small file claiming hours stops early)."""
    import av

    chunks: list[np.ndarray] = []
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.audio:
                raise TakeError("the file holds no sound")
            stream = container.streams.audio[0]
            rate = int(stream.rate or stream.codec_context.sample_rate or 0)
            if not 4000 <= rate <= 192_000:
                raise TakeError(f"unusual sample rate: {rate} Hz")
            resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
            limit, total = int(max_seconds * rate), 0
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunk = out.to_ndarray().reshape(-1)
                    total += chunk.size
                    if total > limit:
                        raise TakeError(f"longer than {max_seconds:.0f} seconds")
                    chunks.append(chunk)
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
    except TakeError:
        raise
    except (av.FFmpegError, OSError, ValueError, IndexError) as exc:
        raise TakeError("not a sound file this line can read (WAV, MP3, OGG, M4A, WebM)") from exc
    samples = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    if samples.size < MIN_SECONDS * rate:
        raise TakeError("too short to be a prompt")
    return Speech(np.clip(np.nan_to_num(samples), -1.0, 1.0), rate)


def numbered(content: Content, lang: str) -> list[tuple[int, Prompt]]:
    """Every prompt of `lang` with its number, as `hotline audio script` lists them."""
    return list(enumerate(prompts_of(content, [lang]), start=1))


def prompt_named(content: Content, lang: str, key: str) -> Prompt | None:
    """The prompt of `lang` whose name (first key) is `key`, if any."""
    return next((p for p in prompts_of(content, [lang]) if p.keys[0] == key), None)


def store_take(content: Content, root: Path, config: AudioConfig, prompt: Prompt, data: bytes,
               times: Iterable[str] = ()) -> Result:
    """Keep `data` as the recording of `prompt` and convert it for the line; the build's result
    (its entry now in the manifest). Raises TakeError for audio that cannot be one."""
    from hotline.audio.build import to_telephone

    speech = decode(data)
    try:
        to_telephone(speech)  # refuses silence before anything is replaced
    except Exception as exc:
        raise TakeError(str(exc)) from exc
    folder = root / RECORDINGS / prompt.lang
    folder.mkdir(parents=True, exist_ok=True)
    name = prompt.keys[0]
    with _locked(folder):
        _write(folder / f"{name}.flac", lambda f: soundfile.write(
            f, speech.samples, speech.rate, format="FLAC", subtype="PCM_16"))
        _write(folder / f"{name}{SIDECAR}", lambda f: f.write(f"{prompt.text}\n".encode()))
        for other in folder.glob(f"{name}.*"):
            if other.suffix.lower() in RECORDING_TYPES and other.suffix.lower() != ".flac":
                other.unlink()
        engines = make_engines(config, root)
        plan = make_plan(content, root, config, engines, langs=[prompt.lang], offline=True,
                         times=times)
        task = next((t for t in plan.tasks if t.prompt.id == prompt.id and t.source), None)
        if task is None:
            raise TakeError("the recording was stored but the prompt's text changed meanwhile")
        result = run_task(task, root, engines)
        if result.entry is None or not result.converted:
            raise TakeError("; ".join(result.errors) or "the recording could not be converted")
        update_manifest(root, {prompt.id: result.entry})
    return result


def _write(path: Path, write: Callable[[BinaryIO], object]) -> None:
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """One take at a time per language folder, across processes."""
    with open(folder / LOCK, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield
