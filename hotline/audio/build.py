"""Render every prompt into `audio_cache/`: plan what is out of date, render it, list it.

A prompt is one distinct (language, text) the line can speak (`hotline.engine.voice.utterances`).
Its audio is up to date when the manifest lists a file, present on disk, that was rendered from its
exact text by the engine the configuration prefers (or a better one) in the telephone format, and,
when a human recording of that text exists, the converted recording too. Only the rest is rendered,
by threads (`jobs`) or by RQ workers (`workers.audio`). Files are written to a temporary name and
renamed, and the manifest is merged under a file lock and replaced atomically, so the web (which
re-reads it when it changes) never sees a half-written file or list.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import soundfile
import soxr

from hotline.audio.config import AudioConfig, load_audio_config, make_engines
from hotline.audio.engines import Engine, EngineError, Speech
from hotline.audio.library import MANIFEST, RECORDING, Recording, find_recordings, text_id
from hotline.content.ivr import Content, load_content
from hotline.engine.voice import utterances

# 8 kHz mono mu-law WAV (G.711): the telephone network's own codec, so Twilio plays it unchanged.
FORMAT = "wav-mulaw-8000-mono"
RATE = 8000
PEAK = 0.89  # -1 dBFS: every prompt equally loud, whichever engine or person spoke it
# A person's recording is normalised by its loudness (ITU-R BS.1770, pyloudnorm), not its peak: a
# breath or a click near the microphone would otherwise set its level. -19 LUFS is the median
# loudness of espeak-ng's prompts peaking at PEAK; a recording's peak is still held at PEAK.
LOUDNESS = -19.0
TRIM_DB = -30.0  # a recording's frames this far below its loudest are silence at either end
PAD_SECONDS = 0.1  # silence kept before and after speech
LOCK = ".manifest.lock"
TMP_PREFIX = ".tmp-"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_PUBLIC_MODE = 0o666 & ~_umask()  # what open() would give a new file: readable by the web

Part = dict[str, Any]  # one file in a manifest entry: PART_FIELDS
PART_FIELDS = ("file", "engine", "voice", "format", "seconds")


@dataclass(frozen=True)
class Prompt:
    """One distinct text to speak in one language, and the prompt keys that say it."""

    lang: str
    keys: tuple[str, ...]
    text: str
    speech: str = ""  # what the engine reads: the text with the language's respellings
    menu: bool = False  # a menu's "topic: key" line only (engines may speak these briskly)

    @property
    def id(self) -> str:
        return text_id(self.lang, self.text)

    @property
    def spoken(self) -> str:
        return self.speech or self.text


@dataclass(frozen=True)
class Task:
    """The work one prompt needs: render with the first engine of `chain` that succeeds (unless
    `rendered` is kept), and convert the recording `source` (unless `recorded` is kept)."""

    prompt: Prompt
    chain: tuple[tuple[str, str], ...] = ()
    rendered: Part | None = None
    source: str | None = None
    source_sha: str | None = None
    recorded: Part | None = None


@dataclass(frozen=True)
class Result:
    """What became of a task: the new manifest entry (None: no audio) and what went wrong."""

    prompt: Prompt
    entry: dict[str, Any] | None
    rendered_by: str | None = None
    reused: bool = False  # the rendered file already existed (a stand-in made by an earlier run)
    converted: bool = False
    errors: tuple[str, ...] = ()  # left the prompt without the audio it needs
    fallback: str | None = None  # why the preferred engine did not render it


@dataclass
class Plan:
    """What a build must do: tasks, entries to change without rendering, and what to report."""

    prompts: list[Prompt]
    tasks: list[Task]
    changes: dict[str, dict[str, Any] | None]
    stale: list[Recording]
    no_engine: list[str]


@dataclass
class BuildReport:
    """What a build did."""

    prompts: int = 0
    up_to_date: int = 0
    rendered: dict[str, int] = field(default_factory=dict)  # engine -> files
    reused: int = 0
    converted: int = 0
    failed: list[str] = field(default_factory=list)
    fallbacks: list[str] = field(default_factory=list)
    stale: list[Recording] = field(default_factory=list)
    no_engine: list[str] = field(default_factory=list)
    pruned: int = 0
    seconds: float = 0.0

    def lines(self) -> list[str]:
        """A short account for the terminal."""
        done = ", ".join(f"{n} with {e}" for e, n in sorted(self.rendered.items())) or "none"
        reused = f", {self.reused} files reused" if self.reused else ""
        lines = [f"audio: {self.prompts} prompts, {self.up_to_date} up to date, rendered {done}"
                 f"{reused}, {self.converted} recordings converted, {len(self.failed)} failed "
                 f"({self.seconds:.1f} s)"]
        if self.fallbacks:
            lines.append(f"  {len(self.fallbacks)} prompts rendered by a fallback engine; the next "
                         f"build tries the preferred one again (--offline skips gTTS). "
                         f"First reason: {self.fallbacks[0]}")
        if self.pruned:
            lines.append(f"  pruned {self.pruned} unreferenced files")
        lines += [f"  failed: {f}" for f in self.failed[:10]]
        lines += [f"  stale recording (recorded from another text, not played): "
                  f"{r.source}" for r in self.stale]
        lines += [f"  {lang}: no engine speaks it: needs recordings" for lang in self.no_engine]
        return lines


# --- the telephone format ------------------------------------------------------------------------


def file_name(text: str, engine: str, voice: str, fmt: str = FORMAT) -> str:
    """The cache file name for `text` spoken by `engine` with `voice` in `fmt`."""
    digest = hashlib.sha256(f"{text}\n{engine}\n{voice}\n{fmt}".encode()).hexdigest()
    return f"{digest[:32]}.wav"


def to_telephone(speech: Speech, loudness: float | None = None) -> np.ndarray:
    """Samples at 8 kHz: resampled (soxr), silence trimmed to PAD_SECONDS, peak at PEAK (or,
    given `loudness`, that integrated loudness in LUFS with the peak at most PEAK)."""
    samples = np.asarray(speech.samples, dtype=np.float32)
    if speech.rate != RATE:
        samples = soxr.resample(samples, speech.rate, RATE, quality="HQ")
    peak = float(np.abs(samples).max()) if samples.size else 0.0
    if peak < 1e-3:
        raise EngineError("the audio is silent")
    pad = int(PAD_SECONDS * RATE)
    if loudness is None:
        loud = np.flatnonzero(np.abs(samples) > 0.03 * peak)
        samples = samples[max(0, loud[0] - pad): loud[-1] + pad]
    else:  # a room's hiss can pass 3% of a quiet take's peak: judge 20 ms frames by their energy
        frame = RATE // 50
        frames = samples[: len(samples) // frame * frame].reshape(-1, frame)
        energy = np.sqrt(np.mean(frames ** 2, axis=1)) if len(frames) else np.ones(1)
        voiced = np.flatnonzero(energy > energy.max() * 10 ** (TRIM_DB / 20))
        samples = samples[max(0, voiced[0] * frame - pad): (voiced[-1] + 1) * frame + pad]
        peak = float(np.abs(samples).max())
    gain = PEAK / peak
    if loudness is not None:
        gain = min(gain, _loudness_gain(samples, loudness))
    return (samples * gain).astype(np.float32)


def _loudness_gain(samples: np.ndarray, target: float) -> float:
    """The gain that brings `samples` (at RATE) to `target` LUFS; infinite when too short to
    measure (under 0.4 s: the peak decides)."""
    import pyloudnorm

    try:
        measured = pyloudnorm.Meter(RATE).integrated_loudness(samples.astype(np.float64))
    except ValueError:
        return float("inf")
    if not np.isfinite(measured):
        return float("inf")
    return float(10 ** ((target - measured) / 20))


def write_wav(path: Path, samples: np.ndarray) -> None:
    """Write a mu-law WAV atomically: a temporary file in the same folder, then a rename."""
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, suffix=".wav", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            soundfile.write(f, samples, RATE, format="WAV", subtype="ULAW")
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _PUBLIC_MODE)  # mkstemp makes 0600; the web may run as another user
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _store(root: Path, name: str, speech: Speech, loudness: float | None = None) -> float:
    """Convert and write `speech` as `root/name`; its duration in seconds."""
    samples = to_telephone(speech, loudness)
    write_wav(root / name, samples)
    return round(len(samples) / RATE, 3)


# --- the manifest --------------------------------------------------------------------------------


def read_manifest(root: Path) -> dict[str, dict[str, Any]]:
    """The manifest's entries by text id (empty when there is none or it is broken)."""
    try:
        data = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}
    files = data.get("files") if isinstance(data, dict) else None
    return files if isinstance(files, dict) else {}


@contextmanager
def manifest_lock(root: Path) -> Iterator[None]:
    """Held while the manifest is read, changed and replaced (threads, processes, RQ workers)."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / LOCK, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


def update_manifest(root: Path, changes: dict[str, dict[str, Any] | None]) -> None:
    """Merge `changes` (text id -> entry, None removes it) into the manifest, atomically."""
    if not changes:
        return
    with manifest_lock(root):
        files = read_manifest(root)
        for key, entry in changes.items():
            if entry is None:
                files.pop(key, None)
            else:
                files[key] = entry
        _write_manifest(root, files)


def _write_manifest(root: Path, files: dict[str, dict[str, Any]]) -> None:
    text = json.dumps({"version": 1, "files": dict(sorted(files.items()))}, ensure_ascii=False,
                      indent=1, sort_keys=True)
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, suffix=".json", dir=root)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _PUBLIC_MODE)
        os.replace(tmp, root / MANIFEST)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --- planning ------------------------------------------------------------------------------------


def prompts_of(content: Content, langs: Iterable[str] | None = None,
               times: Iterable[str] = ()) -> list[Prompt]:
    """Every distinct prompt of `langs` (default: all), in the order the line speaks them;
    `times`: the opening times the line may announce (each is a piece of its own)."""
    wanted = set(langs) if langs is not None else None
    keys: dict[tuple[str, str], list[str]] = {}
    for u in utterances(content, times):
        if wanted is None or u.lang in wanted:
            keys.setdefault((u.lang, u.text), []).append(u.key)
    return [Prompt(lang, tuple(k), text, content.speech(lang, text),
                   all(key in content.option_prompts for key in k))
            for (lang, text), k in keys.items()]


def engine_chain(config: AudioConfig, engines: dict[str, Engine], lang: str,
                 offline: bool = False, menu: bool = False) -> tuple[tuple[str, str], ...]:
    """(engine, voice) pairs that speak `lang` (menu lines if `menu`), best first; only
    offline engines if `offline`."""
    chain = []
    for name in config.order_for(lang):
        engine = engines[name]
        if offline and not engine.offline:
            continue
        voice = engine.voice(lang, menu)
        if voice is not None:
            chain.append((name, voice))
    return tuple(chain)


def make_plan(content: Content, root: Path, config: AudioConfig, engines: dict[str, Engine], *,
              langs: Iterable[str] | None = None, offline: bool = False,
              times: Iterable[str] = ()) -> Plan:
    """Compare the content with the manifest and the recordings: what must be done."""
    prompts = prompts_of(content, langs, times)
    manifest = read_manifest(root)
    recordings = [r for r in find_recordings(root) if langs is None or r.lang in set(langs)]
    by_text: dict[str, Recording] = {}
    for take in recordings:
        if take.text is not None:
            by_text.setdefault(text_id(take.lang, take.text), take)
    current = {p.id for p in prompts}
    stale = [r for r in recordings if r.lang in content.languages
             and (r.text is None or text_id(r.lang, r.text) not in current)]
    chains, best = {}, {}
    for kind in {(p.lang, p.menu) for p in prompts}:
        lang, menu = kind
        full = engine_chain(config, engines, lang, menu=menu)
        chains[kind] = engine_chain(config, engines, lang, offline, menu)
        # A rendering by the engine this build would use, or by one the language prefers to it.
        best[kind] = set(full[: full.index(chains[kind][0]) + 1] if chains[kind] else full)
    tasks, changes = [], {}
    for prompt in prompts:
        kind = (prompt.lang, prompt.menu)
        entry = manifest.get(prompt.id) or {}
        rendered = entry.get("rendered") if entry.get("engine") == RECORDING else entry
        rendered = rendered if _fresh(root, prompt, rendered, best[kind]) else None
        recording = by_text.get(prompt.id)
        task = Task(prompt, () if rendered else chains[kind], rendered)
        if recording is not None:  # converted already when the entry plays this very take
            sha = hashlib.sha256(recording.path.read_bytes()).hexdigest()
            name = file_name(prompt.text, RECORDING, sha)
            kept = None
            if entry.get("engine") == RECORDING and entry.get("file") == name and (
                    root / name).is_file():
                kept = {k: entry[k] for k in (*PART_FIELDS, "source") if k in entry}
            task = replace(task, source=recording.source, source_sha=sha, recorded=kept)
        if task.chain or (task.source and not task.recorded):
            tasks.append(task)
            continue
        new = compose(prompt, task.rendered, task.recorded)
        if new != (entry or None):
            changes[prompt.id] = new
    no_engine = sorted({lang for lang, _ in chains if not engine_chain(config, engines, lang)})
    return Plan(prompts, tasks, changes, stale, no_engine)


def _fresh(root: Path, prompt: Prompt, part: Part | None, acceptable: set[tuple[str, str]]) -> bool:
    if not part or part.get("format") != FORMAT:
        return False
    pair = (str(part.get("engine")), str(part.get("voice")))
    return (pair in acceptable and part.get("file") == file_name(prompt.spoken, *pair)
            and (root / str(part["file"])).is_file())


def compose(prompt: Prompt, rendered: Part | None, recorded: Part | None) -> dict[str, Any] | None:
    """The manifest entry: the recording plays when there is one, else the rendered file."""
    base = {"lang": prompt.lang, "keys": sorted(prompt.keys), "text": prompt.text}
    if recorded:
        entry = {**base, **recorded}
        if rendered:
            entry["rendered"] = _part(rendered)
        return entry
    return {**base, **_part(rendered)} if rendered else None


def _part(entry: dict[str, Any]) -> Part:
    return {k: entry[k] for k in PART_FIELDS if k in entry}


# --- doing the work ------------------------------------------------------------------------------


def run_task(task: Task, root: Path, engines: dict[str, Engine]) -> Result:
    """Render and convert what `task` needs; never raises for an engine's or a file's failure."""
    prompt, tried, reused = task.prompt, [], False
    rendered, rendered_by = task.rendered, None
    for name, voice in task.chain:
        target = file_name(prompt.spoken, name, voice)
        try:
            reused = (root / target).is_file()  # names are content hashes: this file is it
            if reused:
                seconds = round(soundfile.info(root / target).duration, 3)
            else:
                speech = engines[name].speak(prompt.spoken, prompt.lang, prompt.menu)
                seconds = _store(root, target, speech)
        except (EngineError, OSError, ValueError, RuntimeError) as exc:
            tried.append(f"{prompt.lang} {prompt.keys[0]}: {name}: {exc}")
            continue
        rendered = {"file": target, "engine": name, "voice": voice, "format": FORMAT,
                    "seconds": seconds}
        rendered_by = name
        break
    errors = tried if rendered_by is None else []
    fallback = tried[0] if rendered_by is not None and tried else None
    recorded, converted = task.recorded, False
    if task.source and not recorded and task.source_sha:
        from hotline.audio.takes import TakeError, decode

        try:
            target = file_name(prompt.text, RECORDING, task.source_sha)
            seconds = _store(root, target, decode((root / task.source).read_bytes()), LOUDNESS)
            recorded = {"file": target, "engine": RECORDING, "voice": task.source_sha,
                        "format": FORMAT, "seconds": seconds, "source": task.source}
            converted = True
        except (EngineError, TakeError, OSError, ValueError, RuntimeError) as exc:
            errors.append(f"{task.source}: cannot convert: {exc}")
    return Result(prompt, compose(prompt, rendered, recorded), rendered_by, reused, converted,
                  tuple(errors), fallback)


Executor = Callable[[list[Task]], Iterator[Result]]


def threads(root: Path, engines: dict[str, Engine], jobs: int) -> Executor:
    """Run tasks on `jobs` threads (espeak-ng synthesises one at a time; gTTS waits in parallel)."""

    def execute(tasks: list[Task]) -> Iterator[Result]:
        if jobs <= 1:
            yield from (run_task(t, root, engines) for t in tasks)
            return
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            futures = [pool.submit(run_task, t, root, engines) for t in tasks]
            yield from (f.result() for f in as_completed(futures))

    return execute


def build(content: Content, root: Path | str, config: AudioConfig | None = None, *,
          langs: Iterable[str] | None = None, offline: bool = False, jobs: int = 1,
          prune: bool = False, progress: bool = False, engines: dict[str, Engine] | None = None,
          executor: Executor | None = None, times: Iterable[str] = ()) -> BuildReport:
    """Bring `root` up to date with `content`; see the module's docstring. `times`: the
    opening times the line may announce, rendered as pieces of their own."""
    started = time.monotonic()
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    config = config or load_audio_config(content.root)
    engines = engines or make_engines(config, root)
    langs = list(langs) if langs is not None else None
    plan = make_plan(content, root, config, engines, langs=langs, offline=offline, times=times)
    report = BuildReport(prompts=len(plan.prompts), up_to_date=len(plan.prompts) - len(plan.tasks),
                         stale=plan.stale, no_engine=plan.no_engine)
    update_manifest(root, plan.changes)
    if plan.tasks:
        _execute(plan.tasks, root, executor or threads(root, engines, jobs), report, progress)
    if prune:
        report.pruned = prune_cache(root, {p.id for p in plan.prompts}, langs)
    report.seconds = time.monotonic() - started
    return report


def _execute(tasks: list[Task], root: Path, executor: Executor, report: BuildReport,
             progress: bool) -> None:
    from tqdm import tqdm

    pending: dict[str, dict[str, Any] | None] = {}
    flushed = time.monotonic()
    with tqdm(total=len(tasks), unit="prompt", desc="audio", disable=not progress,
              leave=False) as bar:
        for result in executor(tasks):
            if result.entry is not None or not result.errors:
                pending[result.prompt.id] = result.entry
            if result.reused:
                report.reused += 1
            elif result.rendered_by:
                report.rendered[result.rendered_by] = report.rendered.get(result.rendered_by, 0) + 1
            report.converted += result.converted
            report.failed += list(result.errors)
            if result.fallback:
                report.fallbacks.append(result.fallback)
            bar.update(1)
            if time.monotonic() - flushed > 2:  # the web hears progress while a long build runs
                update_manifest(root, pending)
                pending, flushed = {}, time.monotonic()
    update_manifest(root, pending)


def prune_cache(root: Path, current: set[str], langs: Iterable[str] | None = None) -> int:
    """Drop entries of texts no longer spoken (in `langs`, default all), then delete the cache
    files no entry names; recordings and files not named like ours are never touched."""
    wanted = set(langs) if langs is not None else None
    with manifest_lock(root):
        files = read_manifest(root)
        kept = {k: e for k, e in files.items()
                if k in current or (wanted is not None and e.get("lang") not in wanted)}
        if kept != files:
            _write_manifest(root, kept)
        named = {str(part.get("file")) for e in kept.values()
                 for part in (e, e.get("rendered") or {})}
        removed = 0
        for path in root.glob("*.wav"):
            ours = len(path.stem) == 32 and all(c in "0123456789abcdef" for c in path.stem)
            if ours and path.name not in named:
                path.unlink()
                removed += 1
        for path in root.glob(f"{TMP_PREFIX}*"):  # left by a killed process
            if time.time() - path.stat().st_mtime > 3600:
                path.unlink()
    return removed


def ensure_audio(content_root: Path | str, audio_root: Path | str, *, jobs: int | None = None,
                 echo: Callable[[str], Any] = print,
                 times: Iterable[str] = ()) -> BuildReport | None:
    """For `hotline run`: render what is missing with offline engines only (fast when up to
    date). Never stops the start: on any failure it says so and the line uses <Say>."""
    try:
        content = load_content(content_root)
        report = build(content, Path(audio_root), offline=True, jobs=jobs or os.cpu_count() or 1,
                       progress=True, times=times)
    except Exception as exc:  # the line still works without audio
        echo(f"audio: not built ({exc.__class__.__name__}: {exc}); the line uses <Say>")
        return None
    for line in report.lines():
        echo(line)
    return report
