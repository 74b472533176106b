"""What each language's audio covers, and how long a first-time caller listens before information.

Every count asks `AudioLibrary` what the line would play right now, so the report and the calls
agree. Durations come from the manifest; a prompt with no audio yet is estimated from its length
(the language's own rendered speech rate, else DEFAULT_CHARS_PER_SECOND) and marked with "~".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hotline.audio.build import Prompt, engine_chain, make_plan, read_manifest
from hotline.audio.config import AudioConfig
from hotline.audio.engines import Engine
from hotline.audio.library import RECORDING, AudioLibrary, Recording
from hotline.content.ivr import LANGUAGE_MENU, Content
from hotline.engine import voice as engine
from hotline.engine.voice import Utterance

DEFAULT_CHARS_PER_SECOND = 14.0  # about 150 words a minute


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
    before_info: tuple[float, float]  # (an item on the first menu, the deepest item)
    estimated: bool  # before_info counts prompts with no audio, estimated from their length


def language_status(content: Content, root: Path, config: AudioConfig,
                    engines: dict[str, Engine]) -> list[LanguageStatus]:
    """A row for every language of `content`."""
    library = AudioLibrary(root)
    manifest = read_manifest(root)
    seconds_of_file = {str(part["file"]): float(part.get("seconds") or 0)
                       for e in manifest.values() for part in (e, e.get("rendered") or {})
                       if part.get("file")}
    plan = make_plan(content, root, config, engines)
    playing = {(p.lang, p.text): library.find(p.lang, p.text) for p in plan.prompts}
    heard = {key: seconds_of_file.get(name or "", 0.0) for key, name in playing.items()}
    rates = {lang: _chars_per_second([p for p in plan.prompts if p.lang == lang], heard)
             for lang in content.languages}
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
        estimated = False

        def seconds(u: Utterance) -> float:
            nonlocal estimated
            if heard.get((u.lang, u.text)):
                return heard[(u.lang, u.text)]
            estimated = True
            return len(u.text) / rates.get(u.lang, DEFAULT_CHARS_PER_SECOND)

        before = seconds_before_information(content, lang, seconds)
        rows.append(LanguageStatus(
            lang, len(prompts), recorded, rendered, [r for r in plan.stale if r.lang == lang],
            sum(1 for p in prompts if playing[(lang, p.text)] is None),
            tuple(name for name, _ in engine_chain(config, engines, lang)),
            sum(heard[(lang, p.text)] for p in prompts), before, estimated))
    return rows


def _chars_per_second(prompts: list[Prompt], heard: dict[tuple[str, str], float]) -> float:
    """The language's speech rate in its audio so far (DEFAULT_CHARS_PER_SECOND without any)."""
    spoken = [p for p in prompts if heard.get((p.lang, p.text))]
    seconds = sum(heard[(p.lang, p.text)] for p in spoken)
    return sum(len(p.text) for p in spoken) / seconds if seconds else DEFAULT_CHARS_PER_SECOND


def seconds_before_information(content: Content, lang: str,
                               seconds: Callable[[Utterance], float]) -> tuple[float, float]:
    """Seconds of audio a first-time caller hears, every menu in full, before an information
    item begins: (the quickest item, the slowest). Walks the real engine, so it follows the menu."""
    first = engine.incoming(content)
    turn, before = first, 0.0
    if first.listen is not None and first.listen.node == LANGUAGE_MENU:
        before = sum(seconds(u) for u in first.say)
        turn = engine.respond(content, first.listen, str(list(content.languages).index(lang) + 1))
    found: list[float] = []
    queue, seen = [(turn, before)], set()
    while queue:
        turn, before = queue.pop(0)
        node = content.nodes.get(turn.listen.node) if turn.listen else None
        if node is None or node.type not in ("menu", "info"):
            continue  # hung up, or a flow that is not information (a callback request)
        if node.type == "info":
            found.append(before)  # the item's own text is the first thing this turn says
            continue
        if node.name in seen:
            continue
        seen.add(node.name)
        spent = before + sum(seconds(u) for u in turn.say)
        for option in content.options_of(node):
            if option.goto and turn.listen:
                queue.append((engine.respond(content, turn.listen, option.digit), spent))
    return (min(found), max(found)) if found else (0.0, 0.0)


def status_lines(rows: list[LanguageStatus]) -> list[str]:
    """The table, the totals and what needs a person's attention."""
    head = (f"{'language':<9}{'prompts':>8}{'recorded':>9}{'rendered':>9}{'stale':>6}"
            f"{'missing':>8}{'minutes':>8}{'before info (s)':>17}  engine")
    lines = [head, "-" * len(head)]
    for r in rows:
        mark = "~" if r.estimated else ""
        before = f"{mark}{r.before_info[0]:.0f}-{r.before_info[1]:.0f}"
        engines = " > ".join(r.engines) if r.engines else "none: needs recordings"
        lines.append(f"{r.lang:<9}{r.prompts:>8}{r.recorded:>9}{r.rendered:>9}{len(r.stale):>6}"
                     f"{r.missing:>8}{r.seconds / 60:>8.1f}{before:>17}  {engines}")
    total = sum(r.seconds for r in rows)
    lines.append(f"\ntotal audio: {total / 60:.1f} minutes in {len(rows)} languages")
    lines.append("before info: seconds of audio before the first sentence of information, "
                 "hearing the language menu, the welcome and every menu on the way in full "
                 "(an item on the main menu - the deepest item).")
    if any(r.estimated for r in rows):
        lines.append("~ estimated: some of these prompts have no audio yet; their length is "
                     "estimated from their text.")
    for r in rows:
        if not r.engines:
            lines.append(f"{r.lang}: no engine speaks it: record its prompts in "
                         f"audio_cache/recordings/{r.lang}/")
        for recording in r.stale:
            why = "has no sidecar text" if recording.text is None else "was recorded from " \
                  "another text than the prompt's current one"
            lines.append(f"stale: {recording.source} {why}; the rendered file plays instead")
    return lines
