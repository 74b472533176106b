"""Audio lookup: which pre-rendered or recorded file plays an utterance, if any.

`audio_cache/manifest.json` lists rendered files:

    {"version": 1,
     "files": {"<text id>": {"file": "<name>.wav", "lang": "fr", "keys": ["welcome"],
                             "text": "...", "engine": "espeak-ng", "voice": "fr", "format": "..."}}}

The text id is `text_id(lang, text)`: a changed text has another id, so it can never play stale
audio, and a file's name (a hash of text, engine, voice and format) never changes meaning, so it
can be cached forever. The manifest is re-read when it changes (`version`).

Human recordings live in `recordings/<lang>/<prompt key>.<ext>`, each with a sidecar
`<prompt key>.txt` holding the exact text that was read aloud. `hotline audio build` converts a
recording whose sidecar matches the prompt's current text into the telephone format, and lists it
as the entry's file with `"engine": "recording"`, `"source"` (the recording's path) and
`"rendered"` (the engine's file, kept as the fallback). A recording made from another text is
stale: it is reported and never listed, so the rendered file plays. A listed recording whose
source has been deleted falls back to the rendered file at once.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
RECORDINGS = "recordings"
RECORDING = "recording"  # the manifest's engine name for a human recording
SIDECAR = ".txt"
RECORDING_TYPES = (".wav", ".mp3", ".flac", ".ogg", ".m4a", ".webm", ".opus")  # PyAV reads them


def text_id(lang: str, text: str) -> str:
    """The manifest key of the exact `text` spoken in `lang`."""
    return hashlib.sha256(f"{lang}\n{text}".encode()).hexdigest()


def texts_by_file(files: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Each file a manifest's `files` list (recordings' rendered stand-ins too) with the text it
    speaks: what the simulator shows for a <Play>."""
    texts = {}
    for entry in files.values():
        for part in (entry, entry.get("rendered") or {}):
            if part.get("file"):
                texts[str(part["file"])] = str(entry.get("text"))
    return texts


class AudioLibrary:
    """Finds the audio file for an utterance in an `audio_cache/` folder."""

    def __init__(self, root: Path | str):
        self.root = Path(root)
        self._manifest_path = os.fspath(self.root / MANIFEST)  # stat on every webhook: no pathlib
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._files: dict[str, dict[str, Any]] = {}
        self._names: tuple[dict[str, dict[str, Any]], frozenset[str]] | None = None

    def find(self, lang: str, text: str) -> str | None:
        """The file name (relative to the cache) that speaks `text`, or None when there is none."""
        entry = self._manifest().get(text_id(lang, text))
        if not entry or entry.get("text") != text:
            return None
        candidates = [entry, entry.get("rendered") or {}]
        source = self.root / str(entry.get("source"))
        if entry.get("engine") == RECORDING and not source.is_file():
            candidates = candidates[1:]  # the recording was taken away: play the rendered file
        for candidate in candidates:
            name = str(candidate.get("file", ""))
            if name and (self.root / name).is_file():
                return name
        return None

    def lists(self, name: str) -> bool:
        """True when `name` is a file the manifest lists (a rendering or a converted recording,
        never a recording's source)."""
        return name in self._listed()

    def _listed(self) -> frozenset[str]:
        files = self._manifest()
        with self._lock:
            if self._names is None or self._names[0] is not files:
                self._names = (files, frozenset(
                    str(part["file"]) for entry in files.values()
                    for part in (entry, entry.get("rendered") or {}) if part.get("file")))
            return self._names[1]

    def seconds(self, lang: str, text: str) -> float | None:
        """How long the file that speaks `text` plays, when there is one and its length is
        known."""
        name = self.find(lang, text)
        entry = self._manifest().get(text_id(lang, text)) or {}
        for part in (entry, entry.get("rendered") or {}):
            if name and part.get("file") == name and part.get("seconds"):
                return float(part["seconds"])
        return None

    def version(self) -> tuple[int, int, int] | None:
        """The manifest's modification time (ns), inode and size: they change with every build
        and every recording kept (see `_manifest`)."""
        try:
            found = os.stat(self._manifest_path)
        except FileNotFoundError:
            return None
        return (found.st_mtime_ns, found.st_ino, found.st_size)

    def _manifest(self) -> dict[str, dict[str, Any]]:
        path = self.root / MANIFEST
        stamp = self.version()
        if stamp is None:
            return {}
        with self._lock:
            if stamp != self._stamp:
                try:
                    data = json.loads(path.read_text(encoding="utf-8"))
                    files = data.get("files", {}) if isinstance(data, dict) else {}
                    self._files = files if isinstance(files, dict) else {}
                except (OSError, ValueError):
                    self._files = {}  # a half-written manifest: speak with <Say> until it is whole
                self._stamp = stamp
            return self._files


@dataclass(frozen=True)
class Recording:
    """A human recording of one prompt; `text` is its sidecar's text (None: no sidecar)."""

    lang: str
    key: str
    path: Path
    text: str | None

    @property
    def source(self) -> str:
        """Its path inside the cache, as the manifest names it."""
        return f"{RECORDINGS}/{self.lang}/{self.path.name}"

    def matches(self, text: str) -> bool:
        """True when it was recorded from exactly `text` (spacing aside)."""
        return self.text is not None and self.text == " ".join(text.split())


def find_recordings(root: Path | str) -> list[Recording]:
    """Every audio file under `root/recordings/<lang>/`, with the text its sidecar states."""
    base = Path(root) / RECORDINGS
    found = []
    for folder in sorted(p for p in base.glob("*") if p.is_dir()):
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() not in RECORDING_TYPES or not path.is_file():
                continue
            sidecar = path.with_suffix(SIDECAR)
            try:
                text: str | None = " ".join(sidecar.read_text(encoding="utf-8").split())
            except (FileNotFoundError, UnicodeDecodeError):
                text = None
            found.append(Recording(folder.name, path.stem, path, text or None))
    return found
