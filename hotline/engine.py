"""The voice flow engine: where the caller is + what they pressed -> what to say, where to listen.

Pure: no Flask, no Twilio. Webhooks, the static export, the simulator and the tests all drive it.
A `Position` is all the state a call has; the channel carries it in the next request's URL.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from hotline.content import LANGUAGE_MENU, Content, Node, Option

SPOKEN_KEYS = {"*": "key_star", "#": "key_hash"}


@dataclass(frozen=True)
class Position:
    """Where a caller is: the node whose choices they hear, their language, failed tries so far."""

    node: str
    lang: str | None = None
    retry: int = 0


@dataclass(frozen=True)
class Utterance:
    """One prompt to speak: its language, its key and its final text."""

    lang: str
    key: str
    text: str


@dataclass(frozen=True)
class Turn:
    """What the line says, then where it listens for one key; `listen` None means hang up.

    `send_sms` names the information item whose SMS text the caller asked for, if they did.
    """

    say: tuple[Utterance, ...]
    listen: Position | None
    send_sms: str | None = None


def incoming(content: Content) -> Turn:
    """The first turn of a call: the language menu, or the welcome when only one language exists."""
    if len(content.languages) == 1:
        return _welcome(content, next(iter(content.languages)))
    return Turn(_language_options(content), Position(LANGUAGE_MENU))


def respond(content: Content, at: Position, digits: str | None, can_text: bool = True) -> Turn:
    """The turn after the caller, at `at`, pressed `digits` (None or "" when they were silent).

    `can_text` is False when the caller's number cannot receive an SMS (withheld, not a mobile).
    """
    if at.node == LANGUAGE_MENU or at.lang not in content.languages:
        return _choose_language(content, at, digits)
    node = content.nodes.get(at.node)
    if node is None:  # the menu changed during the call: start again from the main menu
        return _enter(content, at.lang, content.nodes[content.start])
    option = _find(content.options_of(node), digits)
    if option is None:
        return _retry(content, at, node, "invalid" if digits else "no_input")
    return _follow(content, at.lang, node, option, can_text)


def utterances(content: Content) -> Iterator[Utterance]:
    """Every distinct utterance the line can speak, in every language (for audio rendering)."""
    seen: set[tuple[str, str]] = set()
    for lang in content.languages:
        turns = [Turn(_language_options(content), None), _welcome(content, lang)]
        turns += [_enter(content, lang, node) for node in content.nodes.values()]
        extra = [_say(content, lang, key) for key in (
            "invalid", "no_input", "goodbye", "audio_unavailable", "sms_sent", "sms_unavailable")]
        for utterance in [u for turn in turns for u in turn.say] + extra:
            if (utterance.lang, utterance.text) not in seen:
                seen.add((utterance.lang, utterance.text))
                yield utterance


def _find(options: tuple[Option, ...], digits: str | None) -> Option | None:
    digit = (digits or "").strip()
    return next((o for o in options if o.digit == digit), None) if len(digit) == 1 else None


def _say(content: Content, lang: str, key: str, **runtime: str) -> Utterance:
    return Utterance(lang, key, content.text(lang, key, **runtime))


def _option_line(content: Content, lang: str, option: Option) -> Utterance:
    spoken = option.digit
    if option.digit in SPOKEN_KEYS:
        spoken = content.text(lang, SPOKEN_KEYS[option.digit])
    return _say(content, lang, option.prompt, digit=spoken)


def _choices(content: Content, lang: str, node: Node) -> tuple[Utterance, ...]:
    lines = tuple(_option_line(content, lang, o) for o in content.options_of(node))
    if node.type == "menu" and node.prompt:
        return (_say(content, lang, node.prompt), *lines)
    return lines


def _enter(content: Content, lang: str, node: Node, lead: tuple[Utterance, ...] = ()) -> Turn:
    body = _choices(content, lang, node)
    if node.type == "info":
        body = (_say(content, lang, node.prompt or ""), *body)
    return Turn((*lead, *body), Position(node.name, lang))


def _follow(content: Content, lang: str, node: Node, option: Option, can_text: bool) -> Turn:
    if option.action == "sms":
        said = _say(content, lang, "sms_sent" if can_text else "sms_unavailable")
        return Turn((said, *_choices(content, lang, node)), Position(node.name, lang),
                    send_sms=node.name if can_text else None)
    if option.goto:
        return _enter(content, lang, content.nodes[option.goto])
    if option.action == "repeat":
        return _enter(content, lang, node)
    if option.action == "back":
        return _enter(content, lang, content.nodes[node.parent or content.start])
    if option.action == "language":
        return Turn(_language_options(content), Position(LANGUAGE_MENU))
    return _enter(content, lang, content.nodes[content.start])  # "main"


def _retry(content: Content, at: Position, node: Node, reason: str) -> Turn:
    lang = at.lang or ""
    if at.retry >= content.retries:
        return Turn((_say(content, lang, reason), _say(content, lang, "goodbye")), None)
    return Turn(
        (_say(content, lang, reason), *_choices(content, lang, node)),
        Position(node.name, lang, at.retry + 1),
    )


def _welcome(content: Content, lang: str) -> Turn:
    return _enter(content, lang, content.nodes[content.start], (_say(content, lang, "welcome"),))


def _language_options(content: Content) -> tuple[Utterance, ...]:
    return tuple(
        _say(content, code, "language_option", digit=str(i))
        for i, code in enumerate(content.languages, start=1)
    )


def _choose_language(content: Content, at: Position, digits: str | None) -> Turn:
    codes = list(content.languages)
    digit = (digits or "").strip()
    if digit.isascii() and digit.isdigit() and 1 <= int(digit) <= len(codes):
        return _welcome(content, codes[int(digit) - 1])
    if at.retry >= content.retries:
        return Turn(tuple(_say(content, code, "goodbye") for code in codes), None)
    return Turn(_language_options(content), Position(LANGUAGE_MENU, None, at.retry + 1))
