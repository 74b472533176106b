"""The audio build, timed: a full offline build of every language into an empty cache, then a
no-op incremental build of all languages, each as the command an operator types.

The cache is the bench's own (HOTLINE_AUDIO_ROOT), never the checkout's `audio_cache/`; its
recordings folder is copied in, so that recordings are converted as they would be. Offline only:
nothing leaves the machine (and without --offline the build would ask gTTS for better voices).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from bench.stack import BIN, PROJECT_ROOT

COMMAND = [str(BIN / "hotline"), "audio", "build", "--offline"]


@dataclass
class BuildTiming:
    label: str
    command: str
    wall_seconds: float   # the whole command, interpreter start-up and imports included
    own_seconds: float | None  # what the builder reports for its own work
    summary: str
    returncode: int


@dataclass
class AudioTimings:
    how: str  # how it was invoked
    builds: list[BuildTiming]


def run(audio_root: Path, timeout: float = 300) -> AudioTimings:
    """Build into the empty `audio_root` (full), then again (no-op)."""
    if audio_root.exists():
        shutil.rmtree(audio_root)
    audio_root.mkdir(parents=True)
    recordings = PROJECT_ROOT / "audio_cache" / "recordings"
    if recordings.is_dir():
        shutil.copytree(recordings, audio_root / "recordings")
    env = {**os.environ, "HOTLINE_AUDIO_ROOT": str(audio_root)}
    builds = []
    for label in ("full offline build, all languages", "no-op incremental build, all languages"):
        started = time.perf_counter()
        done = subprocess.run(COMMAND, capture_output=True, text=True, timeout=timeout, env=env,
                              cwd=PROJECT_ROOT)
        wall = time.perf_counter() - started
        lines = [line for line in done.stdout.splitlines() if line.strip()]
        summary = lines[0] if lines else (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        own = re.search(r"\(([\d.]+) s\)", summary)
        builds.append(BuildTiming(label, "HOTLINE_AUDIO_ROOT=<bench cache> hotline audio build "
                                         "--offline", wall, float(own.group(1)) if own else None,
                                  summary, done.returncode))
    return AudioTimings("`hotline audio build`", builds)
