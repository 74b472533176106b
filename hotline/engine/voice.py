"""The voice flow engine: where the caller is + what they pressed -> what to say, where to listen.

Pure: no Flask, no Twilio. Webhooks, the static export, the simulator and the tests all drive it.
A `Position` is all the state a call has; the channel carries it in the next request's URL.

A first call hears the language menu, then the welcome, one headline sentence of information,
that keys work at any time, and the main menu. A returning caller (their language remembered)
hears a short welcome and the main menu. At any menu, CODE_KEY and an item's two-digit code go
straight to that item.

The language menu names each language in itself, with its key. With more languages than one
keypad holds, its first page ends with each second-page language's name and MORE_KEY, which
opens the second page (there * goes back). The languages the caller's country code makes likely
come first: a first-page one with its own key, the likeliest second-page one with HINT_KEY, so
that it is chosen on the first page.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace

from hotline.content.ivr import (
    CODE_KEY,
    HINT_KEY,
    LANGUAGE_MENU,
    LANGUAGE_MENUS,
    LANGUAGE_MORE,
    MORE_KEY,
    Content,
    Node,
    Option,
)
from hotline.engine import callback as callback_flow
from hotline.engine.turns import Caller, Position, Turn, Utterance, option_line, say

__all__ = ["Caller", "Position", "Turn", "Utterance", "incoming", "language_keys", "respond",
           "utterances"]
CODE_STEP = "code"  # Position.step while the caller types an item's code
HINT_STEP = "hint:"  # Position.step on the language menu's first page: + the HINT_KEY language
DIGITS = "0123456789"


def incoming(content: Content, remembered: str | None = None,
             caller: Caller | None = None, hint: str | Sequence[str] | None = None) -> Turn:
    """The first turn of a call: the short welcome in the caller's remembered language (or the
    only one); otherwise the language menu, the `hint`ed languages' options first."""
    offered = _offered(content, caller)
    if remembered in offered:
        return _enter(content, remembered, _start(content), (say(content, remembered,
                                                                 "welcome_back"),))
    if len(offered) == 1:
        return _first_welcome(content, offered[0])
    hints = (hint,) if isinstance(hint, str) else tuple(hint or ())
    memo = ("incoming language menu", ",".join(offered), ",".join(hints))  # most calls' turn
    found: Turn | None = content.derived.get(memo)
    if found is None:
        found = content.derived[memo] = _language_menu(content, offered,
                                                       Position(LANGUAGE_MENU), hints)
    return found


def language_keys(content: Content, lang: str, hint: str | Sequence[str] | None = None,
                  caller: Caller | None = None) -> tuple[str, ...]:
    """The keys a first-time caller presses at the language menu to choose `lang` (offered),
    given the country code's `hint`: its key, HINT_KEY, or MORE_KEY then its second-page key."""
    offered = _offered(content, caller)
    hints = (hint,) if isinstance(hint, str) else tuple(hint or ())
    page, key = content.language_key(lang)
    if page == 0:
        return (key,)
    later = [c for p in content.pages()[1:] for c in p if c in offered]
    zero = next((h for h in hints if h in later), None)
    return (HINT_KEY,) if zero == lang else (MORE_KEY, key)


def respond(content: Content, at: Position, digits: str | None,
            caller: Caller | None = None) -> Turn:
    """The turn after the caller, at `at`, pressed `digits` (None or "" when they were silent).

    `caller` tells what the flows need of the caller and the service (defaults: unknown number,
    SMS possible, callbacks open, every language offered).
    """
    caller = caller or Caller()
    if at.step == CODE_STEP:
        return _code(content, at, digits, caller)
    if at.node in LANGUAGE_MENUS or at.lang not in content.languages:
        return _choose_language(content, at, digits, caller)
    node = content.nodes.get(at.node)
    if node is None:  # the menu changed during the call: start again from the main menu
        return _enter(content, at.lang, _start(content))
    if node.type == "callback" and at.step:
        turn = callback_flow.respond(content, at, digits, caller)
        if turn is None:
            return _enter(content, at.lang, _start(content))
        if turn.listen and at.carry and turn.listen.step:
            return replace(turn, listen=replace(turn.listen, carry=at.carry))
        return turn
    if node.type == "callback":
        return callback_flow.enter(content, at.lang, node, caller)
    if (digits or "").strip() == CODE_KEY:
        return _ask_code(content, at)
    option = _find(content.options_of(node), digits)
    if option is None:
        return _retry(content, at, node, "invalid" if digits else "no_input")
    return _follow(content, at.lang, node, option, caller)


def utterances(content: Content, times: Iterable[str] = ()) -> Iterator[Utterance]:
    """Every distinct utterance the line can speak, in every language (for audio rendering):
    the prompts, the pieces of prompts that speak a value, and the values' own pieces (digits,
    weekdays, and `times`: the opening times the line may announce)."""
    seen: set[tuple[str, str]] = set()
    times = tuple(times)
    every = tuple(content.languages)
    menus = [incoming(content, hint=code) for code in every]
    if len(content.pages()) > 1:
        menus.append(_language_menu(content, every, Position(LANGUAGE_MORE)))
    for lang in content.languages:
        turns = [*menus, _first_welcome(content, lang), incoming(content, lang)]
        turns += [_enter(content, lang, node) for node in content.nodes.values()
                  if node.type != "callback"]
        extra = [say(content, lang, key) for key in (
            "invalid", "no_input", "goodbye", "sms_sent", "sms_unavailable", "code_prompt",
            "code_unknown")]
        extra += [say(content, lang, node.details) for node in content.nodes.values()
                  if node.details]
        for node in content.nodes.values():
            if node.type == "callback":
                extra += callback_flow.utterances(content, lang, node, times)
        said = [u for turn in turns for u in turn.say if u.lang == lang]
        for utterance in said + extra:
            for piece in _spoken(utterance):
                if (piece.lang, piece.text) not in seen:
                    seen.add((piece.lang, piece.text))
                    yield piece


def _spoken(utterance: Utterance) -> list[Utterance]:
    """What is rendered for an utterance: itself, or its pieces."""
    if not utterance.pieces:
        return [utterance]
    return [Utterance(utterance.lang, utterance.key, piece) for piece in utterance.pieces]


def _offered(content: Content, caller: Caller | None) -> tuple[str, ...]:
    offered = caller.offered if caller and caller.offered is not None else None
    return tuple(c for c in content.languages if offered is None or c in offered)


def _start(content: Content) -> Node:
    return content.nodes[content.start]


def _find(options: tuple[Option, ...], digits: str | None) -> Option | None:
    digit = (digits or "").strip()
    return next((o for o in options if o.digit == digit), None) if len(digit) == 1 else None


def _choices(content: Content, lang: str, node: Node) -> tuple[Utterance, ...]:
    memo = ("choices", lang, node.name)
    found = content.derived.get(memo)
    if found is None:
        found = tuple(option_line(content, lang, o) for o in content.options_of(node))
        if node.type == "menu" and node.prompt:
            found = (say(content, lang, node.prompt), *found)
        content.derived[memo] = found
    return found


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
    if option.action == "details" and node.details:
        return Turn((say(content, lang, node.details), *_choices(content, lang, node)),
                    Position(node.name, lang))
    if option.action == "back":
        return _enter(content, lang, content.nodes[node.parent or content.start])
    if option.action == "language":
        return _language_menu(content, _offered(content, caller), Position(LANGUAGE_MENU))
    return _enter(content, lang, _start(content))  # "main"


def _retry(content: Content, at: Position, node: Node, reason: str) -> Turn:
    lang = at.lang or ""
    if at.retry >= content.retries:
        return Turn((say(content, lang, reason), say(content, lang, "goodbye")), None)
    return Turn(
        (say(content, lang, reason), *_choices(content, lang, node)),
        Position(node.name, lang, at.retry + 1),
    )


def _first_welcome(content: Content, lang: str, goto: str | None = None) -> Turn:
    """After the language is chosen on a first call: the welcome, the headline, that keys work
    at any time, the main menu; or straight to the item a code chose."""
    if goto in content.nodes:
        return _enter(content, lang, content.nodes[goto])
    lead = tuple(say(content, lang, key) for key in ("welcome", "headline", "press_any_time"))
    return _enter(content, lang, _start(content), lead)


def _language_menu(content: Content, offered: tuple[str, ...], at: Position,
                   hints: tuple[str, ...] = ()) -> Turn:
    """The language menu's page that `at` names, listening there. Each offered language's option
    in itself with its key; on the first page the `hints` first (the likeliest second-page one
    with HINT_KEY, remembered in `at.step`), and each other second-page language with MORE_KEY.
    On a replay (`hints` empty) the HINT_KEY language `at.step` remembers stays first."""
    pages = content.pages()
    if at.node == LANGUAGE_MORE and len(pages) > 1:
        lines = [(code, str(key)) for key, code in enumerate(pages[1], 1) if code in offered]
        return Turn(_language_lines(content, lines), replace(at, step=None))
    hints = tuple(h for h in hints if h in offered) or (
        (at.step.removeprefix(HINT_STEP),) if at.step and at.step.startswith(HINT_STEP) else ())
    later = [c for page in pages[1:] for c in page if c in offered]
    zero = next((h for h in hints if h in later), None)
    first = [(c, str(k)) for k, c in enumerate(pages[0], 1) if c in offered]
    lines = [(c, k) for c, k in first if c in hints] + ([(zero, HINT_KEY)] if zero else [])
    lines.sort(key=lambda line: hints.index(line[0]))
    lines += [(c, k) for c, k in first if c not in hints]
    lines += [(c, MORE_KEY) for c in later if c != zero]
    step = f"{HINT_STEP}{zero}" if zero else None
    return Turn(_language_lines(content, lines), replace(at, node=LANGUAGE_MENU, step=step))


def _language_lines(content: Content, lines: Sequence[tuple[str, str]]) -> tuple[Utterance, ...]:
    return tuple(say(content, code, "language_option", digit=key) for code, key in lines)


def _choose_language(content: Content, at: Position, digits: str | None, caller: Caller) -> Turn:
    offered, pages = _offered(content, caller), content.pages()
    digit = (digits or "").strip()
    if digit == CODE_KEY:
        return _ask_code(content, at)
    page = pages[1] if at.node == LANGUAGE_MORE and len(pages) > 1 else pages[0]
    hinted = at.step.removeprefix(HINT_STEP) if at.step and at.step.startswith(HINT_STEP) \
        else None
    more = at.node != LANGUAGE_MORE and len(pages) > 1 and digit == MORE_KEY
    chosen = None
    if len(digit) == 1 and digit in DIGITS[1:] and int(digit) <= len(page) and not more and \
            page[int(digit) - 1] in offered:
        chosen = page[int(digit) - 1]
    elif digit == HINT_KEY and at.node != LANGUAGE_MORE and hinted in offered:
        chosen = hinted
    if chosen is not None:
        return _first_welcome(content, chosen, at.goto)
    later = [c for p in pages[1:] for c in p if c in offered and c != hinted]
    if at.node != LANGUAGE_MORE and digit == MORE_KEY and later:
        return _language_menu(content, offered, Position(LANGUAGE_MORE, goto=at.goto))
    if at.node == LANGUAGE_MORE and digit == "*":
        return _language_menu(content, offered, Position(LANGUAGE_MENU, goto=at.goto))
    if at.retry >= content.retries:
        on_page = [c for c in offered if c in page] if at.node == LANGUAGE_MORE else offered
        return Turn(tuple(say(content, code, "goodbye") for code in on_page), None)
    return _language_menu(content, offered, replace(at, retry=at.retry + 1))


def _ask_code(content: Content, at: Position) -> Turn:
    """CODE_KEY was pressed: listen for an item's code (in silence at the language menu, where
    no language is chosen yet)."""
    lines = (say(content, at.lang, "code_prompt"),) if at.lang in content.languages else ()
    return Turn(lines, replace(at, step=CODE_STEP, retry=0), code_input=True)


def _code(content: Content, at: Position, digits: str | None, caller: Caller) -> Turn:
    """The code typed after CODE_KEY: the item it names, else the menu the caller was at."""
    item = content.item_by_code((digits or "").strip())
    back = replace(at, step=None)
    if at.node == LANGUAGE_MENU or at.lang not in content.languages:
        # No language yet: the language menu again, and the item straight after it.
        turn = _choose_language(content, replace(back, retry=0), None, caller)
        listen = turn.listen and replace(turn.listen, retry=0,
                                         goto=item.name if item else None)
        return replace(turn, listen=listen)
    if item is not None:
        return _enter(content, at.lang, item)
    node = content.nodes.get(at.node) or _start(content)
    return Turn((say(content, at.lang, "code_unknown"), *_choices(content, at.lang, node)),
                Position(node.name, at.lang))
