"""Recording prompts by phone, for a volunteer with a basic phone: a small flow of its own.

An editor (or admin) calls the line from their registered phone, presses `#` and ENTRY_CODE at
any menu, types their PIN, picks a language when they edit several, types a prompt's number (the
numbers of `hotline audio script` and of the console's script sheet), hears its current text in
the engine's voice, records after the beep, hears the take back, and keeps it (1) or records
again (2); then the next number. The instructions are in English, the console's language.

Pure: each function turns where the editor is and what they pressed into a `Turn` (what to say
or play, what to listen for next, whether to keep or discard the take). The channel
(`hotline.twilio.prompt_recording`) checks the caller and the PIN and carries out the turn.
"""

from __future__ import annotations

from dataclasses import dataclass

from hotline.content.ivr import RESERVED_CODE

ENTRY_CODE = RESERVED_CODE  # after CODE_KEY; never an item's code (the content check refuses it)
MAX_PIN_TRIES = 3
MAX_RECORD_SECONDS = 120

# what the channel listens for next
PIN, LANGUAGE, NUMBER, RECORD, REVIEW = "pin", "language", "number", "record", "review"


@dataclass(frozen=True)
class Say:
    """An instruction, in English."""

    text: str


@dataclass(frozen=True)
class PromptText:
    """The prompt's current text, in the engine's voice (what the editor is to read)."""

    lang: str
    number: int


@dataclass(frozen=True)
class TakeBack:
    """The take just recorded, played back."""


Line = Say | PromptText | TakeBack


@dataclass(frozen=True)
class Turn:
    """What the line does next. `listen` None: hang up. `lang` and `number`: the prompt being
    recorded. `keep`: the last take becomes the prompt's recording; `discard`: it is deleted."""

    lines: tuple[Line, ...]
    listen: str | None
    lang: str | None = None
    number: int | None = None
    keep: bool = False
    discard: bool = False


def start() -> Turn:
    """The editor pressed the entry code from their registered phone: ask the PIN."""
    return Turn((Say("Recording prompts. Type your PIN, then press hash."),), PIN)


def after_pin(right: bool, tries: int, langs: tuple[str, ...], names: dict[str, str]) -> Turn:
    """The PIN typed was `right` or not (`tries`: wrong ones so far, this one included)."""
    if not right:
        if tries >= MAX_PIN_TRIES:
            return Turn((Say("Wrong PIN. Goodbye."),), None)
        return Turn((Say("Wrong PIN. Type your PIN, then press hash."),), PIN)
    if not langs:
        return Turn((Say("Your account records no language of this line. Goodbye."),), None)
    if len(langs) == 1:
        return ask_number(langs[0])
    return _ask_language(langs, names)


def _ask_language(langs: tuple[str, ...], names: dict[str, str]) -> Turn:
    options = " ".join(f"{names.get(lang, lang)}: press {i}." for i, lang in
                       enumerate(langs, start=1))
    ending = " Then press hash." if len(langs) > 9 else ""
    return Turn((Say(f"Which language? {options}{ending}"),), LANGUAGE)


def after_language(langs: tuple[str, ...], names: dict[str, str], digits: str | None) -> Turn:
    """The language chosen among the editor's."""
    key = (digits or "").strip()
    if key.isascii() and key.isdigit() and 1 <= int(key) <= len(langs):
        return ask_number(langs[int(key) - 1])
    return _ask_language(langs, names)


def ask_number(lang: str, before: tuple[Line, ...] = ()) -> Turn:
    """Ask for the number of the prompt to record in `lang`."""
    return Turn((*before, Say("Type the number of the prompt to record, then press hash. "
                              "To stop, hang up.")), NUMBER, lang)


def after_number(lang: str, digits: str | None, count: int) -> Turn:
    """The prompt's number typed: its text, then record (`count`: prompts in the language)."""
    typed = (digits or "").strip()
    if not (typed.isascii() and typed.isdigit() and 1 <= int(typed) <= count):
        return ask_number(lang, (Say(f"There is no prompt {typed or 'without a number'}. "
                                     f"The numbers go from 1 to {count}."),))
    return _record(lang, int(typed), (Say(f"Prompt {int(typed)}. The text is:"),
                                      PromptText(lang, int(typed))))


def _record(lang: str, number: int, before: tuple[Line, ...], discard: bool = False) -> Turn:
    return Turn((*before, Say("Record it after the beep. Press hash when you are done.")),
                RECORD, lang, number, discard=discard)


def after_take(lang: str, number: int, recorded: bool) -> Turn:
    """The take ended: play it back and ask what to do (nothing recorded: record again)."""
    if not recorded:
        return _record(lang, number, (Say("Nothing was recorded."), PromptText(lang, number)))
    return _review(lang, number)


def _review(lang: str, number: int, before: tuple[Line, ...] = ()) -> Turn:
    return Turn((*before, Say("You recorded:"), TakeBack(),
                 Say("To keep it, press 1. To record it again, press 2.")), REVIEW, lang, number)


def after_review(lang: str, number: int, digits: str | None) -> Turn:
    """1 keeps the take (then the next number), 2 discards it and records again."""
    key = (digits or "").strip()
    if key == "1":
        turn = ask_number(lang, (Say("Kept. Callers hear it in a minute."),))
        return Turn(turn.lines, turn.listen, lang, number, keep=True)
    if key == "2":
        return _record(lang, number, (PromptText(lang, number),), discard=True)
    return _review(lang, number)
