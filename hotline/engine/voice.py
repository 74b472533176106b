"""The voice flow engine: where the caller is + what they pressed -> what to say, where to listen.

Pure: no Flask, no Twilio. Webhooks, the static export, the simulator and the tests all drive it.
A `Position` is all the state a call has; the channel carries it in the next request's URL.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from hotline.content.ivr import LANGUAGE_MENU, Content, Node, Option
from hotline.engine import callback as callback_flow
from hotline.engine.turns import Caller, Position, Turn, Utterance, option_line, say

__all__ = ["Caller", "Position", "Turn", "Utterance", "incoming", "respond", "utterances"]


def incoming(content: Content, remembered: str | None = None) -> Turn:
    """The first turn of a call: the welcome in the caller's remembered language (or the only
    one); otherwise the language menu."""
    if remembered in content.languages:
        return _welcome(content, remembered)
    if len(content.languages) == 1:
        return _welcome(content, next(iter(content.languages)))
    return Turn(_language_options(content), Position(LANGUAGE_MENU))


def respond(content: Content, at: Position, digits: str | None,
            caller: Caller | None = None) -> Turn:
    """The turn after the caller, at `at`, pressed `digits` (None or "" when they were silent).

    `caller` tells what the flows need of the caller and the service (defaults: unknown number,
    SMS possible, callbacks open).
    """
    caller = caller or Caller()
    if at.node == LANGUAGE_MENU or at.lang not in content.languages:
        return _choose_language(content, at, digits)
    node = content.nodes.get(at.node)
    if node is None:  # the menu changed during the call: start again from the main menu
        return _enter(content, at.lang, content.nodes[content.start])
    if node.type == "callback" and at.step:
        turn = callback_flow.respond(content, at, digits, caller)
        if turn is None:
            return _enter(content, at.lang, content.nodes[content.start])
        if turn.listen and at.carry and turn.listen.step:
            return replace(turn, listen=replace(turn.listen, carry=at.carry))
        return turn
    if node.type == "callback":
        return callback_flow.enter(content, at.lang, node, caller)
    option = _find(content.options_of(node), digits)
    if option is None:
        return _retry(content, at, node, "invalid" if digits else "no_input")
    return _follow(content, at.lang, node, option, caller)


def utterances(content: Content) -> Iterator[Utterance]:
    """Every distinct utterance the line can speak, in every language (for audio rendering)."""
    seen: set[tuple[str, str]] = set()
    for lang in content.languages:
        turns = [Turn(_language_options(content), None), _welcome(content, lang)]
        turns += [_enter(content, lang, node) for node in content.nodes.values()
                  if node.type != "callback"]
        extra = [say(content, lang, key) for key in (
            "invalid", "no_input", "goodbye", "audio_unavailable", "sms_sent", "sms_unavailable")]
        for node in content.nodes.values():
            if node.type == "callback":
                extra += callback_flow.utterances(content, lang, node)
        for utterance in [u for turn in turns for u in turn.say] + extra:
            if (utterance.lang, utterance.text) not in seen:
                seen.add((utterance.lang, utterance.text))
                yield utterance


def _find(options: tuple[Option, ...], digits: str | None) -> Option | None:
    digit = (digits or "").strip()
    return next((o for o in options if o.digit == digit), None) if len(digit) == 1 else None


def _choices(content: Content, lang: str, node: Node) -> tuple[Utterance, ...]:
    lines = tuple(option_line(content, lang, o) for o in content.options_of(node))
    if node.type == "menu" and node.prompt:
        return (say(content, lang, node.prompt), *lines)
    return lines


def _enter(content: Content, lang: str, node: Node, lead: tuple[Utterance, ...] = ()) -> Turn:
    body = _choices(content, lang, node)
    if node.type == "info":
        body = (say(content, lang, node.prompt or ""), *body)
    return Turn((*lead, *body), Position(node.name, lang))


def _follow(content: Content, lang: str, node: Node, option: Option, caller: Caller) -> Turn:
    if option.action == "sms":
        said = say(content, lang, "sms_sent" if caller.can_text else "sms_unavailable")
        return Turn((said, *_choices(content, lang, node)), Position(node.name, lang),
                    send_sms=node.name if caller.can_text else None)
    if option.goto:
        target = content.nodes[option.goto]
        if target.type == "callback":
            return callback_flow.enter(content, lang, target, caller)
        return _enter(content, lang, target)
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
        return Turn((say(content, lang, reason), say(content, lang, "goodbye")), None)
    return Turn(
        (say(content, lang, reason), *_choices(content, lang, node)),
        Position(node.name, lang, at.retry + 1),
    )


def _welcome(content: Content, lang: str) -> Turn:
    return _enter(content, lang, content.nodes[content.start], (say(content, lang, "welcome"),))


def _language_options(content: Content) -> tuple[Utterance, ...]:
    return tuple(
        say(content, code, "language_option", digit=str(i))
        for i, code in enumerate(content.languages, start=1)
    )


def _choose_language(content: Content, at: Position, digits: str | None) -> Turn:
    codes = list(content.languages)
    digit = (digits or "").strip()
    if digit.isascii() and digit.isdigit() and 1 <= int(digit) <= len(codes):
        return _welcome(content, codes[int(digit) - 1])
    if at.retry >= content.retries:
        return Turn(tuple(say(content, code, "goodbye") for code in codes), None)
    return Turn(_language_options(content), Position(LANGUAGE_MENU, None, at.retry + 1))
