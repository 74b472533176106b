"""Caller time as a budget: how many seconds a caller hears before each information item starts.

A caller on a prepaid phone hangs up after about half a minute, so the menus are measured like
any other content rule. For every language and item, walking the real engine: on a first call
(the language menu, on its second page too for a language there, the welcome, the headline, then
each menu on the way) and with the language
remembered (the short welcome, then the menus), the caller pressing as soon as the option they
want has been spoken (every listening prompt is inside <Gather>, so a key interrupts it).
Durations are those of the rendered or recorded files where `seconds` knows them, else the
text's words at WORDS_PER_SECOND.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from hotline.content.ivr import Content, Node
from hotline.engine import voice as engine
from hotline.engine.turns import Caller, Turn, Utterance

WORDS_PER_SECOND = 2.5
# The budget, in seconds: (first call, language remembered).
BUDGET = {"median item": (20.0, 10.0), "slowest item": (30.0, 15.0),
          "first useful sentence": (25.0, 12.0)}
ENFORCED = ("fr", "nl", "en")  # over budget here fails the content; the others are reported


@dataclass(frozen=True)
class ItemTime:
    """Seconds heard before item `item` starts: on a first call, and with the language known."""

    item: str
    first: float
    returning: float


@dataclass(frozen=True)
class LanguageTime:
    """One language's figures; `estimated` when some durations came from word counts."""

    lang: str
    items: tuple[ItemTime, ...]
    useful_first: float  # when the headline starts, on a first call
    estimated: bool

    def figures(self) -> dict[str, tuple[float, float]]:
        """Each budgeted figure: (first call, language remembered)."""
        first = [i.first for i in self.items]
        returning = [i.returning for i in self.items]
        return {"median item": (statistics.median(first), statistics.median(returning)),
                "slowest item": (max(first), max(returning)),
                "first useful sentence": (min(self.useful_first, min(first)), min(returning))}

    def over_budget(self) -> list[str]:
        """What exceeds the budget, in words; empty when within it."""
        out = []
        for name, (first, returning) in self.figures().items():
            limit_first, limit_returning = BUDGET[name]
            if first > limit_first:
                out.append(f"{name} on a first call: {first:.1f} s (budget {limit_first:.0f} s)")
            if returning > limit_returning:
                out.append(f"{name} with the language remembered: {returning:.1f} s "
                           f"(budget {limit_returning:.0f} s)")
        return out


def caller_times(content: Content, lang: str,
                 seconds: Callable[[Utterance], float | None] = lambda _: None,
                 offered: Sequence[str] | None = None) -> LanguageTime:
    """The figures of `lang`; `seconds` gives an utterance's real duration when known.
    `offered`: the languages the voice line offers (default: all), `lang` counted among them, so
    that the language menu is measured as callers hear it (one that is not voice-ready is left
    out, its "more languages" line too)."""
    estimated = False
    caller = Caller(offered=None if offered is None else tuple(
        c for c in content.languages if c in offered or c == lang))

    def duration(utterance: Utterance) -> float:
        nonlocal estimated
        parts = [Utterance(utterance.lang, utterance.key, p) for p in utterance.pieces] or \
            [utterance]
        total = 0.0
        for part in parts:
            known = seconds(part)
            if known is None:
                estimated = True
                known = words(part.text) / WORDS_PER_SECOND
            total += known
        return total

    # The language menu as a caller with no country hint hears it: each page until the
    # option of `lang` is spoken (on the first page of two, its name with the "more" key).
    first_turn = engine.incoming(content, caller=caller)
    before_language = 0.0
    for key in engine.language_keys(content, lang, caller=caller):
        before_language += _until(first_turn, lambda u: u.lang == lang, duration)
        if first_turn.listen is not None:
            first_turn = engine.respond(content, first_turn.listen, key, caller)
    returning_turn = engine.incoming(content, lang, caller)
    welcome = sum(duration(u) for u in first_turn.say if u.key == "welcome")
    items = []
    for node in content.nodes.values():
        if node.type != "info":
            continue
        path = _path(content, node)
        first = before_language + _walk(content, first_turn, path, duration)
        returning = _walk(content, returning_turn, path, duration)
        items.append(ItemTime(node.name, first, returning))
    return LanguageTime(lang, tuple(items), before_language + welcome, estimated)


def words(text: str) -> int:
    """Spoken words in `text` (a lone colon or dash is not one)."""
    return sum(1 for token in text.split() if any(c.isalnum() for c in token))


def _path(content: Content, item: Node) -> list[tuple[Node, str]]:
    """The (menu, key) pairs that lead from the start to `item`."""
    steps: list[tuple[Node, str]] = []
    node = item
    while node.parent is not None:
        parent = content.nodes[node.parent]
        digit = next(o.digit for o in content.options_of(parent) if o.goto == node.name)
        steps.append((parent, digit))
        node = parent
    return steps[::-1]


def _walk(content: Content, turn: Turn, path: Sequence[tuple[Node, str]],
          duration: Callable[[Utterance], float]) -> float:
    """Seconds heard from `turn` (the main menu's) until the item at the end of `path` starts."""
    spent = 0.0
    for node, digit in path:
        prompt = next(o.prompt for o in content.options_of(node) if o.digit == digit)
        spent += _until(turn, _keyed(prompt), duration)
        if turn.listen is None:
            break
        turn = engine.respond(content, turn.listen, digit, Caller())
    return spent


def _keyed(key: str) -> Callable[[Utterance], bool]:
    return lambda utterance: utterance.key == key


def _until(turn: Turn, wanted: Callable[[Utterance], bool],
           duration: Callable[[Utterance], float]) -> float:
    """Seconds of `turn` up to and including the first utterance that is `wanted`."""
    spent = 0.0
    for utterance in turn.say:
        spent += duration(utterance)
        if wanted(utterance):
            break
    return spent


def table(times: Sequence[LanguageTime]) -> list[str]:
    """The caller-time table of `hotline check` and `make bench`."""
    head = (f"{'language':<9}{'median item':>13}{'slowest item':>14}{'first useful':>14}"
            "   (seconds: first call / language remembered)")
    lines = [head, "-" * len(head)]
    for t in times:
        f = t.figures()
        cells = [f"{f[n][0]:.0f} / {f[n][1]:.0f}" for n in BUDGET]
        mark = "~" if t.estimated else " "
        verdict = "over budget" if t.over_budget() else "within budget"
        lines.append(f"{t.lang:<9}{cells[0]:>13}{cells[1]:>14}{cells[2]:>14}  {mark} {verdict}")
    limits = ", ".join(f"{n} {a:.0f} / {b:.0f}" for n, (a, b) in BUDGET.items())
    lines.append(f"budget: {limits} (enforced for {', '.join(ENFORCED)}); ~ some durations "
                 f"estimated at {WORDS_PER_SECOND} words a second")
    return lines
