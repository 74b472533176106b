"""The SMS engine: what a texter sent + what we remember of them -> the reply and what to remember.

Pure like the voice engine: no Flask, no Twilio, no Redis. The webhook loads a `Conversation`,
asks `reply`, sends `Reply.text` (if any) and stores what the reply says to remember.
"""

from __future__ import annotations

from dataclasses import dataclass

from hotline.content.ivr import LANGUAGE_MENU
from hotline.content.keywords import normalize
from hotline.content.lexicon import HELP
from hotline.content.sms import SmsContent
from hotline.engine.understanding import understand

MAX_OFFERED = 3  # a language menu of just the likely languages offers at most this many


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
    `offered` names the languages of a numbered language menu that offers only some. `about`
    names what was answered, for the anonymous counts: the item or menu sent, or the command
    ("stop", "start", "language", "help", "welcome", "callback", "cancel", "forget"), or ""
    when nothing is sent.
    """

    text: str | None
    lang: str | None = None
    node: str | None = None
    opted_out: bool | None = None
    callback: str | None = None
    topic: str = "other"
    note: str = ""
    answer_lang: str | None = None
    offered: tuple[str, ...] = ()
    about: str = ""


def reply(sms: SmsContent, conv: Conversation, body: str) -> Reply:
    """The answer to `body` from a texter whose state is `conv`."""
    meant = understand(sms, body, remembered=conv.lang)
    if conv.opted_out and meant.command not in ("start", "forget"):
        return Reply(None)  # nothing at all is sent to an opted-out number until START
    if meant.number is not None:
        return _number(sms, conv, meant.number)
    lang = meant.langs[0] if meant.langs else conv.lang
    remember = lang if conv.lang is None else None
    if meant.command == "stop":
        return Reply(_text(sms, lang, "stop_confirm"), lang=remember, opted_out=True,
                     about="stop")
    if meant.command == "start":
        return Reply(_text(sms, lang, "start_confirm"), lang=remember, opted_out=False,
                     about="start")
    if meant.command == "language":
        return _language(sms, list(meant.args))
    answer = lang or next(iter(sms.languages))
    if meant.command in ("cancel", "forget"):
        return Reply(None, lang=None if meant.command == "forget" else remember,
                     callback=meant.command, answer_lang=answer, about=meant.command)
    if meant.topic is None or meant.topic == HELP:
        return _help(sms, conv.lang, meant.langs)
    if sms.voice.nodes[meant.topic].type == "callback":
        return _callback(sms, conv, answer, note=meant.note, remember=remember,
                         named=meant.others)
    return _topic(sms, answer, meant.topic, remember=remember)


def menu(sms: SmsContent, conv: Conversation) -> Reply:
    """The SMS menu for someone who has not written (the missed-call line's answer): the main
    menu in their remembered language, else the welcome that asks for a language."""
    return _help(sms, conv.lang, (conv.lang,) if conv.lang in sms.languages else ())


def _text(sms: SmsContent, lang: str | None, name: str) -> str:
    if lang in sms.languages:
        return sms.languages[lang].texts[name]
    return "\n".join(s.texts[name] for s in sms.languages.values())


def _help(sms: SmsContent, remembered: str | None, likely: tuple[str, ...]) -> Reply:
    """The main menu in the one likely language; the language menu of just the likely ones when
    two or three stay likely; the multilingual welcome when nothing tells."""
    if len(likely) == 1 or (likely and remembered):
        lang = likely[0] if len(likely) == 1 or remembered is None else remembered
        return Reply(sms.menu(lang, sms.voice.start), lang=None if remembered else lang,
                     node=sms.voice.start, answer_lang=lang, about="help")
    if 2 <= len(likely) <= MAX_OFFERED:
        return Reply(sms.language_menu(likely), node=f"{LANGUAGE_MENU}:{','.join(likely)}",
                     offered=likely, about="language")
    return Reply(sms.welcome(), node=LANGUAGE_MENU, about="welcome")


def _callback(sms: SmsContent, conv: Conversation, lang: str, note: str = "",
              remember: str | None = None, named: tuple[str, ...] = ()) -> Reply:
    """Open a callback request; its topic is the one the message names, else the menu the
    texter was reading, if either is a topic of the callback node."""
    topic = next((t for t in (*(_branch(sms, n) for n in named), conv.node)
                  if t in _callback_topics(sms)), "other")
    return Reply(None, lang=remember, callback="open", topic=topic, note=note[:300],
                 answer_lang=lang, about="callback")


def _callback_topics(sms: SmsContent) -> set[str]:
    return {o.topic for n in sms.voice.nodes.values() if n.type == "callback"
            for o in n.options if o.topic}


def _branch(sms: SmsContent, node: str) -> str:
    """The node of the main menu that `node` is under (or is)."""
    nodes = sms.voice.nodes
    while node in nodes and nodes[node].parent not in (None, sms.voice.start):
        node = nodes[node].parent or ""
    return node


def _topic(sms: SmsContent, lang: str, target: str, remember: str | None = None,
           conv: Conversation | None = None) -> Reply:
    node = sms.voice.nodes[target]
    if node.type == "callback":
        return _callback(sms, conv or Conversation(), lang, remember=remember)
    if node.type == "menu":
        return Reply(sms.menu(lang, target), lang=remember, node=target, answer_lang=lang,
                     about=target)
    return Reply(sms.item(lang, target), lang=remember, node=node.parent, answer_lang=lang,
                 about=target)


def _language(sms: SmsContent, rest: list[str]) -> Reply:
    if rest:
        chosen = _resolve_language(sms, rest[0])
        if chosen:
            return Reply(_text(sms, chosen, "language_set"), lang=chosen, node=sms.voice.start,
                         about="language")
    return Reply(sms.language_menu(), node=LANGUAGE_MENU, about="language")


def _resolve_language(sms: SmsContent, word: str, offered: tuple[str, ...] = ()) -> str | None:
    codes = list(offered or sms.languages)
    if word.isascii() and word.isdigit() and 1 <= int(word) <= len(codes):
        return codes[int(word) - 1]
    for code, language in sms.languages.items():
        if word in (normalize(code), normalize(language.name)):
            return code
    return None


def _offered(node: str | None) -> tuple[str, ...] | None:
    """The languages a language menu offered (empty: all), or None if `node` is no such menu."""
    if node is None or node.split(":")[0] != LANGUAGE_MENU:
        return None
    return tuple(c for c in node.partition(":")[2].split(",") if c)


def _number(sms: SmsContent, conv: Conversation, digits: str) -> Reply:
    offered = _offered(conv.node)
    if offered is not None:
        chosen = _resolve_language(sms, digits, offered)
        if chosen:
            return Reply(_text(sms, chosen, "language_set"), lang=chosen, node=sms.voice.start,
                         about="language")
        return Reply(sms.language_menu(offered), node=conv.node, offered=offered,
                     about="language")
    if conv.lang not in sms.languages:
        return Reply(sms.welcome(), node=LANGUAGE_MENU, about="welcome")
    node = sms.voice.nodes.get(conv.node or "") or sms.voice.nodes[sms.voice.start]
    if node.type != "menu":
        node = sms.voice.nodes[node.parent or sms.voice.start]
    option = next((o for o in node.options if o.goto and o.digit == digits), None)
    if option is None or option.goto is None:
        return Reply(sms.menu(conv.lang, node.name), node=node.name, answer_lang=conv.lang,
                     about=node.name)
    return _topic(sms, conv.lang, option.goto, conv=Conversation(conv.lang, node.name))
