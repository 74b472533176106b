"""Asking for a mediator's callback on the voice line: confirm or type the number to call, choose
a topic, leave an optional voice message, hear the reference and when to expect the call.

Pure, like the engine. Its positions name the callback node and a `step`; the steps, in order:
confirm (the caller ID, read back), enter (type a number and #), typed (the typed number, read
back), topic, recorded (after the voice message), done (the reference; 1 repeats it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

import phonenumbers

from hotline.content.ivr import Content, Node
from hotline.engine.turns import Caller, Position, Turn, Utterance, option_line, say, spoken_digits

CALLABLE = (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE,
            phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)


def callable_number(typed: str, countries: frozenset[str]) -> str | None:
    """`typed` as E.164 when it is a valid ordinary (not premium-rate) number of `countries`."""
    try:
        parsed = phonenumbers.parse(typed, next(iter(sorted(countries)), "BE"))
    except phonenumbers.NumberParseException:
        return None
    if (not phonenumbers.is_valid_number(parsed)
            or phonenumbers.region_code_for_number(parsed) not in countries
            or phonenumbers.number_type(parsed) not in CALLABLE):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def spoken_number(e164: str) -> str:
    """A number as a caller knows it (national format), digit by digit in its groups."""
    national = phonenumbers.format_number(phonenumbers.parse(e164, None),
                                          phonenumbers.PhoneNumberFormat.NATIONAL)
    return ", ".join(" ".join(c for c in group if c.isdigit()) for group in national.split())


def enter(content: Content, lang: str, node: Node, caller: Caller) -> Turn:
    """The first turn of a callback request."""
    lead = [say(content, lang, "cb_intro")]
    if caller.reopens:
        lead.append(_reopens(content, lang, "cb_closed", caller))
    if caller.number:
        return _confirm(content, lang, node, caller.number, "confirm", tuple(lead))
    return _ask_number(content, lang, node, tuple(lead))


def respond(content: Content, at: Position, digits: str | None, caller: Caller) -> Turn | None:
    """The turn after `digits` at step `at.step` of the callback request of node `at.node`;
    None when the caller leaves for the main menu."""
    step = at.step or ""
    node, lang = content.nodes[at.node], at.lang or ""
    pressed = (digits or "").strip()
    if step in ("confirm", "typed"):
        if pressed == "1":
            return _topics(content, lang, node)
        if pressed == "2":
            return _ask_number(content, lang, node)
    elif step == "enter":
        number = callable_number(pressed, caller.countries) if pressed else None
        if number:
            return _confirm(content, lang, node, number, "typed", keep=number)
        if pressed:
            return _retry(content, at, "cb_bad_number", (), number_input=True)
    elif step == "topic":
        topic = next((o.topic for o in node.options if o.digit == pressed), None)
        if topic:
            return Turn((), None, open_ticket=topic)
    elif step == "recorded" and at.ref:
        return done(content, lang, node, at.ref, caller)
    elif step == "done" and at.ref:
        if pressed == "1":
            return done(content, lang, node, at.ref, caller)
        if pressed == "9":
            return None
    return _retry(content, at, "invalid" if pressed else "no_input",
                  _step_prompts(content, lang, node, step, caller), number_input=step == "enter")


def after_ticket(content: Content, lang: str, node: Node, ref: str, joined: bool,
                 caller: Caller) -> Turn:
    """Once the ticket exists: record a voice message, or say the reference of the joined one."""
    if joined:
        return done(content, lang, node, ref, caller, "cb_joined")
    return Turn((say(content, lang, "cb_message"),),
                Position(node.name, lang, ref=ref, step="recorded"), record=True)


def refused(content: Content, lang: str) -> Turn:
    """No more callback requests now (a limit): say so, then the main menu."""
    start = content.nodes[content.start]
    return Turn((say(content, lang, "cb_unavailable"),
                 *(option_line(content, lang, o) for o in content.options_of(start))),
                Position(start.name, lang))


def done(content: Content, lang: str, node: Node, ref: str, caller: Caller,
         key: str = "cb_done") -> Turn:
    """The reference, when to expect the call, and the way on."""
    lines = [say(content, lang, key, ref=spoken_digits(ref))]
    lines.append(_reopens(content, lang, "cb_when_later", caller) if caller.reopens
                 else say(content, lang, "cb_when_open"))
    if caller.can_text:
        lines.append(say(content, lang, "cb_sms_follows"))
    lines += _done_options(content, lang)
    return Turn(tuple(lines), Position(node.name, lang, ref=ref, step="done"))


def utterances(content: Content, lang: str, node: Node,
               times: Iterable[str] = ()) -> list[Utterance]:
    """Every utterance of the flow; those that speak a number, a reference, a day or a time
    with their pieces, and every piece a value can have: the digits, the weekdays, `times`."""
    fixed = ["cb_intro", "cb_enter_number", "cb_bad_number", "cb_topic", "cb_message",
             "cb_when_open", "cb_sms_follows", "cb_unavailable"]
    lines = [say(content, lang, key) for key in fixed]
    lines += _confirm_options(content, lang) + _done_options(content, lang)
    lines += [option_line(content, lang, o) for o in node.options]
    lines.append(say(content, lang, "cb_confirm_number", number="0"))
    lines += [say(content, lang, key, ref="0") for key in ("cb_done", "cb_joined")]
    monday, sample = content.text(lang, "day_0"), "0:00"
    for key in ("cb_closed", "cb_when_later"):  # their words; the values' pieces come below
        said = say(content, lang, key, day=monday, time=sample)
        lines.append(replace(said, pieces=tuple(p for p in said.pieces if p != sample)))
    lines += [Utterance(lang, f"day_{i}", content.text(lang, f"day_{i}")) for i in range(7)]
    lines += [Utterance(lang, "time", time) for time in times]
    return lines + [Utterance(lang, "digit", digit) for digit in "0123456789"]


def _reopens(content: Content, lang: str, key: str, caller: Caller) -> Utterance:
    day, time = caller.reopens or (0, "")
    return say(content, lang, key, day=content.text(lang, f"day_{day}"), time=time)


def _confirm_options(content: Content, lang: str) -> list[Utterance]:
    return [say(content, lang, "opt_confirm", digit="1"),
            say(content, lang, "opt_other_number", digit="2")]


def _done_options(content: Content, lang: str) -> list[Utterance]:
    return [say(content, lang, "opt_repeat_ref", digit="1"),
            say(content, lang, "opt_main", digit="9")]


def _confirm(content: Content, lang: str, node: Node, number: str, step: str,
             lead: tuple[Utterance, ...] = (), keep: str | None = None) -> Turn:
    lines = (*lead, say(content, lang, "cb_confirm_number", number=spoken_number(number)),
             *_confirm_options(content, lang))
    return Turn(lines, Position(node.name, lang, step=step), keep_number=keep)


def _ask_number(content: Content, lang: str, node: Node,
                lead: tuple[Utterance, ...] = ()) -> Turn:
    return Turn((*lead, say(content, lang, "cb_enter_number")),
                Position(node.name, lang, step="enter"), number_input=True)


def _topics(content: Content, lang: str, node: Node) -> Turn:
    lines = (say(content, lang, "cb_topic"), *(option_line(content, lang, o)
                                               for o in node.options))
    return Turn(lines, Position(node.name, lang, step="topic"))


def _step_prompts(content: Content, lang: str, node: Node, step: str,
                  caller: Caller) -> tuple[Utterance, ...]:
    """What a step says again after silence or a wrong key."""
    if step == "topic":
        return _topics(content, lang, node).say
    if step == "enter":
        return (say(content, lang, "cb_enter_number"),)
    if step == "done":
        return tuple(_done_options(content, lang))
    if step == "typed" or (step == "confirm" and caller.number):
        return tuple(_confirm_options(content, lang))
    return (say(content, lang, "cb_enter_number"),)


def _retry(content: Content, at: Position, reason: str, lines: tuple[Utterance, ...],
           number_input: bool = False) -> Turn:
    lang = at.lang or ""
    if at.retry >= content.retries:
        return Turn((say(content, lang, reason), say(content, lang, "goodbye")), None)
    return Turn((say(content, lang, reason), *lines), Position(at.node, lang, at.retry + 1, at.ref,
                                                                 step=at.step),
                number_input=number_input)
