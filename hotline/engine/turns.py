"""The vocabulary the voice flow speaks: positions, utterances, turns, and how prompts are said."""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

from hotline.content.ivr import Content, Option

SPOKEN_KEYS = {"*": "key_star", "#": "key_hash"}


@dataclass(frozen=True)
class Position:
    """Where a caller is: the node whose choices they hear, their language, failed tries so far,
    `step`: a step inside the node (a callback request's steps, or "code" while an item's code
    is typed; None elsewhere; only the engine reads it), the callback reference once there is
    one, `carry`: an opaque value the channel attaches during a callback request (the typed
    number, encrypted) that the engine passes along unread, and `goto`: an item to go to once a
    language is chosen (a shortcut code typed at the language menu)."""

    node: str
    lang: str | None = None
    retry: int = 0
    ref: str | None = None
    carry: str | None = None
    step: str | None = None
    goto: str | None = None


@dataclass(frozen=True)
class Utterance:
    """One prompt to speak: its language, its key and its final text.

    `pieces`, when the text holds a value known only during the call (a number, a reference, a
    day or a time): the texts to play one after the other instead, each of which can be
    rendered ahead of time: the prompt's own words between the values, and each value as its
    own piece (digit by digit for numbers). Empty for every other prompt."""

    lang: str
    key: str
    text: str
    pieces: tuple[str, ...] = ()


@dataclass(frozen=True)
class Turn:
    """What the line says, then where it listens for one key; `listen` None means hang up.

    Requests to the channel: `send_sms` names the item whose SMS text the caller asked for;
    `keep_number` is a callback number the caller typed (to keep for this call); `open_ticket`
    is the topic of a callback request to open (then ask `callback_flow.after_ticket`);
    `record` asks for a voice message; `number_input` listens for a number ended by #;
    `code_input` listens for an item's code (CODE_DIGITS keys).
    """

    say: tuple[Utterance, ...]
    listen: Position | None
    send_sms: str | None = None
    keep_number: str | None = None
    open_ticket: str | None = None
    record: bool = False
    number_input: bool = False
    code_input: bool = False

    @property
    def personal(self) -> bool:
        """True when the turn belongs to one caller (a callback request speaks their number or
        reference), so its rendering must not be shared."""
        return self.listen is not None and self.listen.step is not None


def say(content: Content, lang: str, key: str, **runtime: str) -> Utterance:
    """The prompt `key` in `lang`, ready to speak; with `pieces` when `runtime` holds values
    other than an option's {digit}."""
    dynamic = {name: value for name, value in runtime.items() if name != "digit"}
    if not dynamic:  # the same for every caller
        memo = ("say", lang, key, runtime.get("digit", ""))
        found = content.derived.get(memo)
        if found is None:
            found = content.derived[memo] = Utterance(lang, key, content.text(lang, key,
                                                                              **runtime))
        return found
    text = content.text(lang, key, **runtime)
    pieces: list[str] = []
    words = ""
    for literal, name, _, _ in string.Formatter().parse(content.languages[lang].prompts[key]):
        words += literal
        if name is None:
            continue
        if name not in dynamic:
            words += {**content.values, **runtime}[name]
            continue
        pieces += _words(words)
        words = ""
        value = dynamic[name]
        pieces += [c for c in value if c.isdigit()] if SPELLED.fullmatch(value) else [value]
    return Utterance(lang, key, text, tuple(pieces + _words(words)))


SPELLED = re.compile(r"[0-9 ,]+")  # a value spoken digit by digit


def _words(text: str) -> list[str]:
    """The prompt's words between two values, as one piece (none if only punctuation)."""
    piece = " ".join(text.split()).lstrip(".,;: ")
    return [piece] if any(c.isalnum() for c in piece) else []


def option_line(content: Content, lang: str, option: Option) -> Utterance:
    """The prompt announcing `option`, its key spoken as a word when it is * or #."""
    spoken = option.digit
    if option.digit in SPOKEN_KEYS:
        spoken = content.text(lang, SPOKEN_KEYS[option.digit])
    return say(content, lang, option.prompt, digit=spoken)


def spoken_digits(digits: str, group: int = 3) -> str:
    """Digits spaced for text-to-speech, in groups: "482913" -> "4 8 2, 9 1 3"."""
    groups = [digits[i:i + group] for i in range(0, len(digits), group)]
    return ", ".join(" ".join(g) for g in groups)


@dataclass(frozen=True)
class Caller:
    """What the channel knows of the caller and the service, for the flows that need it.

    `number`: the E.164 number to call back (the caller ID, or one typed earlier in the call),
    None when withheld. `can_text`: an SMS reaches that number. `reopens`: when the callback
    service is closed, the weekday (0 = Monday) and time it opens again. `offered`: the
    languages every prompt of which can be spoken (rendered, recorded or a Twilio voice); the
    others are not offered on the voice line.
    """

    number: str | None = None
    can_text: bool = True
    reopens: tuple[int, str] | None = None
    countries: frozenset[str] = frozenset({"BE"})
    offered: tuple[str, ...] | None = None  # languages the voice line can speak (None: all)
