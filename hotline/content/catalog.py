"""Every text of a language as a translator or a reviewer sees it: one entry per voice prompt
and per SMS text or label, with its English source, what it is for and the budget it must keep.

Keys: a voice prompt by its prompt key (`info_cpas_what`); an SMS text or label as
`texts.<name>` or `labels.<name>`. An entry's context, `voice:<key>` or `sms:<key>`, names it in
PO files and messages. Recording a review is here too, so that the CLI and the console share it.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path

from hotline.content.budget import WORDS_PER_SECOND, words
from hotline.content.files import Problem, placeholders
from hotline.content.ivr import Content, load_content
from hotline.content.reviews import (
    KINDS,
    SMS,
    VOICE,
    Review,
    ReviewError,
    TextReview,
    append_review,
    read_ledger,
    review_states,
    text_hash,
)
from hotline.content.segments import cost
from hotline.content.sms import MAX_LABEL, PLACEHOLDERS, SAMPLES, SmsContent, load_sms_content

SOURCE_LANGUAGE = "en"
# A spoken translation may take half again as long as the English, or three words more: every
# word is caller time (the menus' caller-time budget is checked by `hotline check`).
VOICE_SLACK, VOICE_EXTRA_WORDS = 1.5, 3


@dataclass(frozen=True)
class Entry:
    """One text to translate or review. `text` is None when the language lacks it."""

    channel: str
    key: str
    source: str
    text: str | None
    notes: tuple[str, ...]

    @property
    def context(self) -> str:
        """The entry's name in PO files and messages: `voice:<key>` or `sms:<key>`."""
        return f"{self.channel}:{self.key}"


def voice_word_budget(source: str) -> int:
    """The most words a spoken translation of `source` may have."""
    count = words(source)
    return max(math.ceil(count * VOICE_SLACK), count + VOICE_EXTRA_WORDS)


def seconds(count: int) -> str:
    """`count` words as seconds of speech, e.g. "3.6 s"."""
    return f"{count / WORDS_PER_SECOND:.1f} s"


def texts_of(content: Content, sms: SmsContent, channel: str, lang: str) -> dict[str, str]:
    """The current texts of `lang` on `channel`, by key."""
    if channel == VOICE:
        return dict(content.languages[lang].prompts)
    return sms.languages[lang].keyed_texts()


def catalog(content: Content, sms: SmsContent, lang: str) -> list[Entry]:
    """Every text of `lang` with its English source and notes: the voice prompts the menu uses,
    then the SMS labels and texts, each in the order of the English files."""
    if lang not in content.languages or lang not in sms.languages:
        raise ReviewError(f"unknown language {lang!r} (the line offers "
                          f"{', '.join(content.languages)})")
    required = content.required_prompts()
    english = content.languages[SOURCE_LANGUAGE].prompts
    target = content.languages[lang].prompts
    items = {k: n for n in content.nodes.values() if n.type == "info"
             for k in (n.prompt, n.details) if k}
    entries = []
    for key, source in english.items():
        if key not in required:
            continue
        notes = [f"Voice prompt, spoken to callers. {_voice_budget(source, target.get(key))}"]
        node = items.get(key)
        if node is not None:
            part = "details (key 3)" if key == node.details else "text"
            notes.append(f"Information item {node.name} ({part}; shortcut #{node.code}): states "
                         f"facts, so it needs a legal review too; sources checked "
                         f"{node.checked_on}.")
            if node.facts:
                notes.append(f"Fact sheet: {node.facts}.")
            if node.unverified:
                notes.append(f"Unverified: {node.unverified}.")
        notes.extend(_placeholder_note(source))
        entries.append(Entry(VOICE, key, source, target.get(key), tuple(notes)))
    source_sms = sms.languages[SOURCE_LANGUAGE]
    target_sms = sms.languages[lang]
    keyed = target_sms.keyed_texts()
    sources = {**{f"labels.{k}": v for k, v in source_sms.labels.items()},
               **{f"texts.{k}": v for k, v in source_sms.texts.items()}}
    for key, source in sources.items():
        notes = [_sms_note(content, sms, lang, key, keyed.get(key))]
        name = key.split(".", 1)[1]
        node = content.nodes.get(name)
        if key.startswith("texts.") and node is not None and node.type == "info":
            notes.append(f"Information item {name}: states facts, so it needs a legal review too.")
            if node.facts:
                notes.append(f"Fact sheet: {node.facts}.")
        notes.extend(_placeholder_note(source))
        entries.append(Entry(SMS, key, source, keyed.get(key), tuple(notes)))
    return entries


def _voice_budget(source: str, text: str | None) -> str:
    count, limit = words(source), voice_word_budget(source)
    now = f" Now {_words(words(text))} ({seconds(words(text))})." if text else ""
    return (f"Time: the English is {_words(count)}, about {seconds(count)} at "
            f"{WORDS_PER_SECOND:g} words a second; at most {limit} words ({seconds(limit)}).{now}")


def _words(count: int) -> str:
    return f"{count} word" if count == 1 else f"{count} words"


def _sms_note(content: Content, sms: SmsContent, lang: str, key: str, text: str | None) -> str:
    section, name = key.split(".", 1)
    if section == "labels":
        return (f"SMS menu label: one line of a numbered menu, at most {MAX_LABEL} characters.")
    language = sms.languages[lang]
    alphabet = ("GSM-7 only (no ç, ê, î, ô, â, û, ë, ï, œ, curly quotes: each doubles the cost)"
                if language.alphabet == "gsm7" else "any script (UCS-2: 70/67 characters)")
    note = f"SMS text: {alphabet}; at most {sms.budget(lang)} segments"
    node = content.nodes.get(name)
    if node is not None and node.type == "info" and node.code:
        suffix = sms.text(lang, "item_code", code=node.code)
        note += f", with {suffix!r} sent after it, which counts"
    note += "."
    if text is not None:
        sample = text
        if node is not None and node.type == "info" and node.code:
            sample = f"{text} {sms.text(lang, 'item_code', code=node.code)}"
        elif name in PLACEHOLDERS:
            sample = text.format_map({PLACEHOLDERS[name]: SAMPLES[PLACEHOLDERS[name]]})
        price = cost(sample)
        note += f" Now {price.segments} ({price.units} {price.encoding} units)."
    return note


def _placeholder_note(source: str) -> list[str]:
    names = list(dict.fromkeys(placeholders(source)))
    if not names:
        return []
    shown = ", ".join("{" + n + "}" for n in names)
    return [f"Keep {shown} exactly as written: the line fills in the value."]


def resolve_key(content: Content, sms: SmsContent, lang: str, channel: str, key: str) -> str:
    """The ledger key of `key` on `channel`: an SMS name alone means its text (`texts.<name>`)."""
    texts = texts_of(content, sms, channel, lang)
    if channel == SMS and key not in texts and f"texts.{key}" in texts:
        key = f"texts.{key}"
    if key not in texts:
        raise ReviewError(f"{lang}: no {channel} text {key!r}")
    return key


def record_review(root: Path, lang: str, channel: str, key: str, kind: str, by: str,
                  date: dt.date | None = None) -> tuple[Review, TextReview]:
    """Record that `by` reviewed (of `kind`) the current text of `key` in `lang` on `channel`;
    return the review and the text's review state after it. Raises ReviewError for an unknown
    language, key or kind, and ContentError when the content does not load."""
    if channel not in (VOICE, SMS):
        raise ReviewError(f"channel must be {VOICE} or {SMS}, not {channel!r}")
    if kind not in KINDS:
        raise ReviewError(f"kind must be {' or '.join(KINDS)}, not {kind!r}")
    if not by.strip():
        raise ReviewError("a review needs the reviewer's name")
    content = load_content(root)
    sms = load_sms_content(content)
    if lang not in content.languages:
        raise ReviewError(f"unknown language {lang!r} (the line offers "
                          f"{', '.join(content.languages)})")
    key = resolve_key(content, sms, lang, channel, key)
    text = texts_of(content, sms, channel, lang)[key]
    review = Review(key, kind, " ".join(by.split()), date or dt.date.today(), text_hash(text))
    append_review(Path(root), channel, lang, review)
    facts = (content.fact_prompts() if channel == VOICE else
             {f"texts.{n}" for n, node in content.nodes.items() if node.type == "info"})
    problems: list[Problem] = []
    states = review_states({key: text}, read_ledger(Path(root), channel, lang, problems), facts)
    return review, states[key]
