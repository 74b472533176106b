"""Audio lookup: which pre-rendered or recorded file plays an utterance, if any.

`audio_cache/manifest.json` lists rendered files:

    {"version": 1,
     "files": {"<text id>": {"file": "<name>.wav", "lang": "fr", "keys": ["welcome"],
                             "text": "...", "engine": "espeak-ng", "voice": "fr", "format": "..."}}}

The text id is `text_id(lang, text)`: a changed text has another id, so it can never play stale
audio, and a file's name (a hash of text, engine, voice and format) never changes meaning, so it
can be cached forever. The manifest is re-read when its modification time changes.
"""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"


def text_id(lang: str, text: str) -> str:
    """The manifest key of the exact `text` spoken in `lang`."""
    return hashlib.sha256(f"{lang}\n{text}".encode()).hexdigest()


class AudioLibrary:
    """Finds the audio file for an utterance in an `audio_cache/` folder."""

    def __init__(self, root: Path | str):
        self.root = Path(root)
        self._lock = threading.Lock()
        self._stamp: int | None = None
        self._files: dict[str, dict[str, Any]] = {}

    def find(self, lang: str, text: str) -> str | None:
        """The file name (relative to the cache) that speaks `text`, or None when there is none."""
        entry = self._manifest().get(text_id(lang, text))
        if not entry or entry.get("text") != text:
            return None
        name = str(entry.get("file", ""))
        return name if name and (self.root / name).is_file() else None

    def texts_by_file(self) -> dict[str, str]:
        """Each listed file name with the text it speaks (the simulator shows it)."""
        return {str(e.get("file")): str(e.get("text")) for e in self._manifest().values()}

    def _manifest(self) -> dict[str, dict[str, Any]]:
        path = self.root / MANIFEST
        try:
            stamp = path.stat().st_mtime_ns
        except FileNotFoundError:
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
