"""The SMS engine: what a texter sent + what we remember of them -> the reply and what to remember.

Pure like the voice engine: no Flask, no Twilio, no Redis. The webhook loads a `Conversation`,
asks `reply`, sends `Reply.text` (if any) and stores what the reply says to remember.
"""

from __future__ import annotations

from dataclasses import dataclass

from hotline.content.ivr import LANGUAGE_MENU
from hotline.content.keywords import normalize, words
from hotline.content.sms import SmsContent


@dataclass(frozen=True)
class Conversation:
    """What is remembered about one number: language, the menu they are in, opt-out."""

    lang: str | None = None
    node: str | None = None
    opted_out: bool = False


@dataclass(frozen=True)
class Reply:
    """The text to send (None: send nothing), and the state to remember after it.

    `lang` is a language to remember, `node` the menu numbers now refer to, `opted_out` the
    new opt-out state, each None when unchanged. `callback` asks the channel to "open" a callback
    request (about `topic`, with the texter's `note`), to "cancel" theirs, or to "forget"
    everything about the number, and to answer in `answer_lang`: then `text` is None.
    """

    text: str | None
    lang: str | None = None
    node: str | None = None
    opted_out: bool | None = None
    callback: str | None = None
    topic: str = "other"
    note: str = ""
    answer_lang: str | None = None


def reply(sms: SmsContent, conv: Conversation, body: str) -> Reply:
    """The answer to `body` from a texter whose state is `conv`."""
    typed = words(body)
    first = typed[0] if typed else ""
    match = sms.keywords.match(first) if first else None
    if conv.opted_out and not (match and match.target in ("start", "forget")):
        return Reply(None)  # nothing at all is sent to an opted-out number until START
    if first.isascii() and first.isdigit():
        return _number(sms, conv, first)
    if match is None:
        return _help(sms, conv.lang)
    lang = _language_for(conv, match.langs)
    remember = lang if conv.lang is None else None
    if match.target == "stop":
        return Reply(_text(sms, lang, "stop_confirm"), lang=remember, opted_out=True)
    if match.target == "start":
        return Reply(_text(sms, lang, "start_confirm"), lang=remember, opted_out=False)
    if match.target == "language":
        return _language(sms, typed[1:])
    if match.target == "help":
        return _help(sms, conv.lang if conv.lang in match.langs else _only(match.langs),
                     remember=remember)
    answer = lang or conv.lang or next(iter(sms.languages))
    if match.target in ("cancel", "forget"):
        return Reply(None, lang=None if match.target == "forget" else remember,
                     callback=match.target, answer_lang=answer)
    if sms.voice.nodes[match.target].type == "callback":
        note = body.strip().split(maxsplit=1)[1] if len(typed) > 1 else ""
        return _callback(sms, conv, answer, note=note, remember=remember)
    return _topic(sms, answer, match.target, remember=remember)


def _only(langs: tuple[str, ...]) -> str | None:
    return langs[0] if len(langs) == 1 else None


def _language_for(conv: Conversation, langs: tuple[str, ...]) -> str | None:
    """The keyword's language: the remembered one if the word is in it, else the word's own."""
    if conv.lang in langs:
        return conv.lang
    return langs[0] if langs else conv.lang


def _text(sms: SmsContent, lang: str | None, name: str) -> str:
    if lang in sms.languages:
        return sms.languages[lang].texts[name]
    return "\n".join(s.texts[name] for s in sms.languages.values())


def _help(sms: SmsContent, lang: str | None, remember: str | None = None) -> Reply:
    if lang not in sms.languages:
        return Reply(sms.welcome())
    return Reply(sms.menu(lang, sms.voice.start), lang=remember, node=sms.voice.start)


def _callback(sms: SmsContent, conv: Conversation, lang: str, note: str = "",
              remember: str | None = None) -> Reply:
    """Open a callback request; its topic is the menu the texter was reading, if any."""
    topic = conv.node if conv.node in sms.voice.nodes and conv.node != sms.voice.start else "other"
    return Reply(None, lang=remember, callback="open", topic=topic, note=note[:300],
                 answer_lang=lang)


def _topic(sms: SmsContent, lang: str, target: str, remember: str | None = None,
           conv: Conversation | None = None) -> Reply:
    node = sms.voice.nodes[target]
    if node.type == "callback":
        return _callback(sms, conv or Conversation(), lang, remember=remember)
    if node.type == "menu":
        return Reply(sms.menu(lang, target), lang=remember, node=target)
    return Reply(sms.item(lang, target), lang=remember, node=node.parent)


def _language(sms: SmsContent, rest: list[str]) -> Reply:
    if rest:
        chosen = _resolve_language(sms, rest[0])
        if chosen:
            return Reply(_text(sms, chosen, "language_set"), lang=chosen, node=sms.voice.start)
    return Reply(sms.language_menu(), node=LANGUAGE_MENU)


def _resolve_language(sms: SmsContent, word: str) -> str | None:
    codes = list(sms.languages)
    if word.isascii() and word.isdigit() and 1 <= int(word) <= len(codes):
        return codes[int(word) - 1]
    for code, language in sms.languages.items():
        if word in (normalize(code), normalize(language.name)):
            return code
    return None


def _number(sms: SmsContent, conv: Conversation, digits: str) -> Reply:
    if conv.node == LANGUAGE_MENU:
        chosen = _resolve_language(sms, digits)
        if chosen:
            return Reply(_text(sms, chosen, "language_set"), lang=chosen, node=sms.voice.start)
        return Reply(sms.language_menu(), node=LANGUAGE_MENU)
    if conv.lang not in sms.languages:
        return Reply(sms.welcome())
    node = sms.voice.nodes.get(conv.node or "") or sms.voice.nodes[sms.voice.start]
    if node.type != "menu":
        node = sms.voice.nodes[node.parent or sms.voice.start]
    option = next((o for o in node.options if o.goto and o.digit == digits), None)
    if option is None or option.goto is None:
        return Reply(sms.menu(conv.lang, node.name), node=node.name)
    return _topic(sms, conv.lang, option.goto, conv=Conversation(conv.lang, node.name))
