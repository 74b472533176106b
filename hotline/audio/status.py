"""What each language's audio covers, which languages the voice line can offer, and how long a
caller listens before information (`hotline.content.budget`, with the rendered durations).

Every count asks `AudioLibrary` what the line would play right now, so the report and the calls
agree. Durations come from the manifest; a prompt with no audio yet is estimated from its words
and marked with "~".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from hotline.audio.build import engine_chain, make_plan, read_manifest
from hotline.audio.config import AudioConfig
from hotline.audio.engines import Engine
from hotline.audio.library import RECORDING, AudioLibrary, Recording
from hotline.content.budget import WORDS_PER_SECOND, caller_times
from hotline.content.ivr import Content
from hotline.engine import voice as engine


@dataclass
class LanguageStatus:
    """One row of `hotline audio status`."""

    lang: str
    prompts: int
    recorded: int
    rendered: int
    stale: list[Recording]
    missing: int
    engines: tuple[str, ...]
    seconds: float  # all the audio that plays now
    before_info: tuple[float, float]  # median item starts: (first call, language remembered)
    estimated: bool  # before_info counts prompts with no audio, estimated from their words


def language_status(content: Content, root: Path, config: AudioConfig,
                    engines: dict[str, Engine], times: Iterable[str] = ()) -> list[LanguageStatus]:
    """A row for every language of `content`."""
    library = AudioLibrary(root)
    manifest = read_manifest(root)
    seconds_of_file = {str(part["file"]): float(part.get("seconds") or 0)
                       for e in manifest.values() for part in (e, e.get("rendered") or {})
                       if part.get("file")}
    plan = make_plan(content, root, config, engines, times=times)
    playing = {(p.lang, p.text): library.find(p.lang, p.text) for p in plan.prompts}
    heard = {key: seconds_of_file.get(name or "", 0.0) for key, name in playing.items()}
    rows = []
    for lang in content.languages:
        prompts = [p for p in plan.prompts if p.lang == lang]
        recorded = rendered = 0
        for p in prompts:
            entry = manifest.get(p.id) or {}
            if entry.get("engine") == RECORDING and playing[(lang, p.text)] == entry.get("file"):
                recorded += 1
            part = entry.get("rendered") if entry.get("engine") == RECORDING else entry
            if part and part.get("file") and (root / str(part["file"])).is_file():
                rendered += 1
        caller = caller_times(content, lang, lambda u: heard.get((u.lang, u.text)) or None)
        median = caller.figures()["median item"]
        rows.append(LanguageStatus(
            lang, len(prompts), recorded, rendered, [r for r in plan.stale if r.lang == lang],
            sum(1 for p in prompts if playing[(lang, p.text)] is None),
            tuple(name for name, _ in engine_chain(config, engines, lang)),
            sum(heard[(lang, p.text)] for p in prompts), median, caller.estimated))
    return rows


def voice_ready(content: Content, library: AudioLibrary,
                times: Iterable[str] = ()) -> tuple[str, ...]:
    """The languages the voice line can offer: every utterance (and every piece of one) has a
    file, or Twilio has a voice for the language. A caller never hears another language in
    place of theirs: a language without either is not offered until its audio exists."""
    missing = {u.lang for u in engine.utterances(content, times)
               if not content.languages[u.lang].say_language and not library.find(u.lang, u.text)}
    return tuple(code for code in content.languages if code not in missing)


def status_lines(rows: list[LanguageStatus]) -> list[str]:
    """The table, the totals and what needs a person's attention."""
    head = (f"{'language':<9}{'prompts':>8}{'recorded':>9}{'rendered':>9}{'stale':>6}"
            f"{'missing':>8}{'minutes':>8}{'before info (s)':>17}  engine")
    lines = [head, "-" * len(head)]
    for r in rows:
        mark = "~" if r.estimated else ""
        before = f"{mark}{r.before_info[0]:.0f}/{r.before_info[1]:.0f}"
        engines = " > ".join(r.engines) if r.engines else "none: needs recordings"
        lines.append(f"{r.lang:<9}{r.prompts:>8}{r.recorded:>9}{r.rendered:>9}{len(r.stale):>6}"
                     f"{r.missing:>8}{r.seconds / 60:>8.1f}{before:>17}  {engines}")
    total = sum(r.seconds for r in rows)
    lines.append(f"\ntotal audio: {total / 60:.1f} minutes in {len(rows)} languages")
    lines.append("before info: seconds a caller hears before the median information item "
                 "starts, pressing as soon as the wanted option is spoken (first call / language "
                 "remembered); `hotline check` prints the whole caller-time table.")
    if any(r.estimated for r in rows):
        lines.append("~ estimated: some of these prompts have no audio yet; their length is "
                     f"estimated at {WORDS_PER_SECOND} words a second.")
    for r in rows:
        if not r.engines:
            lines.append(f"{r.lang}: no engine speaks it: record its prompts in "
                         f"audio_cache/recordings/{r.lang}/")
        for recording in r.stale:
            why = "has no sidecar text" if recording.text is None else "was recorded from " \
                  "another text than the prompt's current one"
            lines.append(f"stale: {recording.source} {why}; the rendered file plays instead")
    return lines
