"""What the line costs a texter and a caller: SMS segments per template and language, and the
seconds of audio a caller hears from pickup to the first sentence of information.

Durations come from the rendered files listed in the audio manifest (`seconds`); a prompt with no
listed file is estimated from its words at ESTIMATE_WPM, and the figures say how many were.
Only audio is counted: not the pauses Twilio leaves between prompts, nor the time to press a key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from hotline.audio.library import MANIFEST, text_id
from hotline.content.ivr import LANGUAGE_MENU, Content
from hotline.content.segments import cost
from hotline.content.sms import SmsContent
from hotline.engine import voice as engine
from hotline.engine.turns import Position, Turn, Utterance

ESTIMATE_WPM = 150  # espeak-ng's rate in ivr_scripts/audio.yaml; a calm telephone pace


@dataclass
class SmsRow:
    """One template: segments per language ('*' for the multilingual texts), UCS-2 or not."""

    name: str
    segments: dict[str, int] = field(default_factory=dict)
    ucs2: dict[str, bool] = field(default_factory=dict)


def sms_table(sms: SmsContent) -> tuple[list[SmsRow], dict[str, tuple[float, int, int]]]:
    """Rows per template, and per language (mean segments, worst, budget)."""
    rows: dict[str, SmsRow] = {}
    for (lang, name), text in sms.all_texts().items():
        price = cost(text)
        row = rows.setdefault(name, SmsRow(name))
        row.segments[lang] = price.segments
        row.ucs2[lang] = price.encoding == "UCS-2"
    per_lang = {}
    for lang in [*sms.languages, "*"]:
        counts = [r.segments[lang] for r in rows.values() if lang in r.segments]
        if counts:
            per_lang[lang] = (sum(counts) / len(counts), max(counts), sms.budget(lang))
    return list(rows.values()), per_lang


class Durations:
    """Seconds of audio per utterance: the manifest's figure, else an estimate from words."""

    def __init__(self, audio_root: Path):
        try:
            data = json.loads((audio_root / MANIFEST).read_text(encoding="utf-8"))
            self.files = data.get("files", {}) if isinstance(data, dict) else {}
        except (OSError, ValueError):
            self.files = {}
        self.measured: set[str] = set()   # text ids timed from a rendered file
        self.estimated: set[str] = set()  # text ids estimated from their words

    def __call__(self, utterance: Utterance) -> float:
        key = text_id(utterance.lang, utterance.text)
        entry = self.files.get(key) or {}
        seconds = entry.get("seconds") or (entry.get("rendered") or {}).get("seconds")
        if seconds:
            self.measured.add(key)
            return float(seconds)
        self.estimated.add(key)
        return len(utterance.text.split()) * 60 / ESTIMATE_WPM


@dataclass
class Route:
    """The keys from the main menu to one information item."""

    item: str
    hops: list[tuple[str, str]]  # (menu node, digit pressed there)


def item_paths(content: Content) -> list[Route]:
    """The shortest key path from the main menu to every information item."""
    paths, todo, seen = [], [(content.start, [])], {content.start}
    while todo:
        name, hops = todo.pop(0)
        for option in content.nodes[name].options:
            target = content.nodes.get(option.goto or "")
            if target is None or target.name in seen:
                continue
            seen.add(target.name)
            route = [*hops, (name, option.digit)]
            if target.type == "info":
                paths.append(Route(target.name, route))
            elif target.type == "menu":
                todo.append((target.name, route))
    return paths


def _heard(turn: Turn, seconds: Durations, until: Utterance | None) -> tuple[float, float]:
    """(seconds of the whole turn, seconds until `until` has been said)."""
    full, early, reached = 0.0, 0.0, until is None
    for utterance in turn.say:
        length = seconds(utterance)
        full += length
        if not reached:
            early += length
            reached = utterance == until
    return full, (early if until is not None else full)


@dataclass
class CallerTime:
    """Seconds of audio before an item's first sentence, for one language and item."""

    lang: str
    item: str
    first_full: float      # language menu + welcome + menus, each heard to the end
    first_early: float     # the same, pressing as soon as one's own option has been said
    known_full: float      # from the welcome (language known), each menu heard to the end
    known_early: float


def _walk(content: Content, turn: Turn, lang: str, path: Route,
          seconds: Durations) -> tuple[float, float]:
    """(in full, pressing at the option) seconds from `turn` along `path` to its item."""
    full = early = 0.0
    for node, digit in path.hops:
        option = next(o for o in content.nodes[node].options if o.digit == digit)
        said = next((u for u in turn.say if u.key == option.prompt), None)
        f, e = _heard(turn, seconds, said)
        full, early = full + f, early + e
        turn = engine.respond(content, Position(node, lang), digit)
    if not turn.say or turn.say[0].key != content.nodes[path.item].prompt:
        raise RuntimeError(f"{lang} {path.item}: the item does not start its turn")
    return full, early


def caller_times(content: Content, seconds: Durations) -> list[CallerTime]:
    """Every (language, item) of the line; see CallerTime."""
    out = []
    codes = list(content.languages)
    menu = engine.incoming(content)
    for index, lang in enumerate(codes, 1):
        picked = next(u for u in menu.say if u.lang == lang)
        menu_full, menu_early = _heard(menu, seconds, picked)
        if menu.listen is None or menu.listen.node != LANGUAGE_MENU:
            menu_full = menu_early = 0.0  # one language only: no language menu
        chosen = engine.respond(content, Position(LANGUAGE_MENU), str(index))
        for path in item_paths(content):
            first_full, first_early = _walk(content, chosen, lang, path, seconds)
            known_full, known_early = _walk(content, engine.incoming(content, lang), lang, path,
                                            seconds)
            out.append(CallerTime(lang, path.item, menu_full + first_full,
                                  menu_early + first_early, known_full, known_early))
    return out


def components(content: Content, seconds: Durations) -> dict[str, dict[str, tuple[float, float]]]:
    """Per language, each stage heard in full: (shortest, longest) seconds."""
    menu = engine.incoming(content)
    whole = sum(seconds(u) for u in menu.say)
    main = content.nodes[content.start]
    out = {}
    for lang in content.languages:
        turn = engine.incoming(content, lang)  # a call from a number whose language is known
        welcome = sum(seconds(u) for u in turn.say if u.key == "welcome")
        menu_seconds = sum(seconds(u) for u in turn.say if u.key != "welcome")
        subs = [sum(seconds(u) for u in engine.respond(content, Position(main.name, lang),
                                                         o.digit).say)
                for o in main.options if content.nodes.get(o.goto or "") is not None
                and content.nodes[o.goto or ""].type == "menu"]
        out[lang] = {"language menu": (whole, whole), "welcome": (welcome, welcome),
                     "main menu": (menu_seconds, menu_seconds),
                     "submenu": (min(subs, default=0.0), max(subs, default=0.0))}
    return out
