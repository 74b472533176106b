"""The vocabulary the voice flow speaks: positions, utterances, turns, and how prompts are said."""

from __future__ import annotations

from dataclasses import dataclass

from hotline.content.ivr import Content, Option

SPOKEN_KEYS = {"*": "key_star", "#": "key_hash"}


@dataclass(frozen=True)
class Position:
    """Where a caller is: the node whose choices they hear, their language, failed tries so far,
    `step`: inside a callback request, which of its steps (None elsewhere; only the engine reads
    it), the callback reference once there is one, and `carry`: an opaque value the channel
    attaches during a callback request (the typed number, encrypted) that the engine passes along
    unread."""

    node: str
    lang: str | None = None
    retry: int = 0
    ref: str | None = None
    carry: str | None = None
    step: str | None = None


@dataclass(frozen=True)
class Utterance:
    """One prompt to speak: its language, its key and its final text."""

    lang: str
    key: str
    text: str


@dataclass(frozen=True)
class Turn:
    """What the line says, then where it listens for one key; `listen` None means hang up.

    Requests to the channel: `send_sms` names the item whose SMS text the caller asked for;
    `keep_number` is a callback number the caller typed (to keep for this call); `open_ticket`
    is the topic of a callback request to open (then ask `callback_flow.after_ticket`);
    `record` asks for a voice message; `number_input` listens for a number ended by #.
    """

    say: tuple[Utterance, ...]
    listen: Position | None
    send_sms: str | None = None
    keep_number: str | None = None
    open_ticket: str | None = None
    record: bool = False
    number_input: bool = False

    @property
    def personal(self) -> bool:
        """True when the turn belongs to one caller (a callback request speaks their number or
        reference), so its rendering must not be shared."""
        return self.listen is not None and self.listen.step is not None


def say(content: Content, lang: str, key: str, **runtime: str) -> Utterance:
    """The prompt `key` in `lang`, ready to speak."""
    return Utterance(lang, key, content.text(lang, key, **runtime))


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
    service is closed, the weekday (0 = Monday) and time it opens again.
    """

    number: str | None = None
    can_text: bool = True
    reopens: tuple[int, str] | None = None
    countries: frozenset[str] = frozenset({"BE"})
