"""Load and validate the SMS lexicon: `sms_templates/lexicon/<lang>.yaml`, one file a language.

Each file lists the words and short phrases people write, by what they are about:

    language: fr
    topics:            # a node of ivr_scripts/menu.yaml, or help (the main menu)
      amu: [aide medicale, medecin, soins, "hopita*", ...]
    fillers: [svp, merci, ...]   # words that say nothing (please, thanks): "stop svp" is STOP
    opt_out: [plus recevoir, ...]  # phrases that ask for no more messages, in any sentence
    compounds: true    # words are glued into compounds, the head last (Dutch): see phrases
    pending:           # words for nodes the menu does not have yet: ignored until they exist
      legal_aid: [avocat, ...]

How an entry is written (`word`, `stem*`, `a ... b`) and matched is in `hotline.content.phrases`.
The words of `keywords.yaml` join the same index, so a keyword is found anywhere in a message
too, except commands (STOP: only as the whole message) and callback keywords (CALL, BELLEN: only as
the first word, since "appel" or "bellen" in a sentence is seldom a request to be called; the
lexicon's phrases, "appelez-moi", "bel mij", ask for it anywhere). A word (or phrase) under two
topics of one language, or under a topic and the fillers, is an error naming the file and the key,
and so is a topic that is no menu node.

`keywords.yaml`'s `precedence` orders topics for a message that names several: the first listed
wins; a topic not listed ranks with the nearest node above it that is, and a deeper topic beats
the node above it ("aide médicale" is amu, and "combien le RIS" the amounts, not the money menu).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

from hotline.content.ivr import Checker, Content, Problem, read_yaml, relative_name
from hotline.content.phrases import GAP, MIN_STEM, Entry, PhraseIndex, entry_steps, tokens

HELP = "help"
FILLER = "filler"
OPT_OUT = "opt_out"
LEXICON_DIR = "sms_templates/lexicon"
COMMON_WORDS = 5000  # per language: "never", "still", "ziek" are words, not typos
WORDFREQ_CODES = {"prs": "fa"}  # our code -> wordfreq's, when they differ


@dataclass(frozen=True)
class Lexicon:
    """Every word the SMS line understands, indexed, and how topics rank against each other."""

    index: PhraseIndex
    precedence: tuple[str, ...]
    voice: Content
    sizes: dict[str, dict[str, int]] = field(default_factory=dict)  # lang -> topic -> entries

    def rank(self, topic: str) -> tuple[int, int]:
        """Sort key of a topic: its precedence (lower wins), then deeper first."""
        depth, node = 0, topic
        while node in self.voice.nodes and node not in self.precedence:
            node, depth = self.voice.nodes[node].parent or "", depth + 1
        position = self.precedence.index(node) if node in self.precedence else len(
            self.precedence)
        return position, -depth


def topic_names(voice: Content) -> set[str]:
    """What a lexicon topic may be: a node of the voice menu but the start, or help."""
    return {*(n for n in voice.nodes if n != voice.start), HELP}


def load_lexicon(voice: Content, keywords: dict[str, dict[str, list[str]]],
                 precedence: list[str], problems: list[Problem]) -> Lexicon:
    """Read every language's lexicon and merge it with the non-command `keywords`."""
    root: Path = voice.root
    claimed: dict[tuple[str, tuple[str, ...]], tuple[str, str, str]] = {}  # (lang, steps) -> ...
    sizes: dict[str, dict[str, int]] = {}
    compounding: set[str] = set()
    allowed = topic_names(voice)
    for target, by_lang in keywords.items():
        if target not in allowed or (target in voice.nodes
                                     and voice.nodes[target].type == "callback"):
            continue  # commands act alone, callback keywords as the first word only
        for lang, words in by_lang.items():
            for word in words:
                _claim(claimed, lang, str(word), target, ("sms_templates/keywords.yaml",
                                                          f"keywords.{target}"), None)
    for code in voice.languages:
        path = root / LEXICON_DIR / f"{code}.yaml"
        data = read_yaml(path, root, problems)
        if data is None:
            continue
        check = Checker(relative_name(path, root), problems)
        if data.get("language") != code:
            check.fail("language", f"must be {code!r}, the file's name")
        topics = data.get("topics")
        if not isinstance(topics, dict):
            check.fail("topics", "must map topics to lists of words")
            topics = {}
        for topic, words in topics.items():
            if topic not in allowed:
                check.fail(f"topics.{topic}", "is neither a menu node nor help (words for "
                           "nodes still to come go under pending)")
                continue
            for word in _word_list(words, f"topics.{topic}", check):
                _claim(claimed, code, word, str(topic), (check.file, f"topics.{topic}"), check)
        for key, target in (("fillers", FILLER), ("opt_out", OPT_OUT)):
            for word in _word_list(data.get(key, []), key, check):
                _claim(claimed, code, word, target, (check.file, key), check)
        if data.get("compounds", False) not in (True, False):
            check.fail("compounds", "must be true or false")
        elif data.get("compounds"):
            compounding.add(code)
    merged: dict[tuple[tuple[str, ...], str], list[str]] = {}
    texts: dict[tuple[tuple[str, ...], str], str] = {}
    for (lang, steps), (target, _, text) in claimed.items():
        merged.setdefault((steps, target), []).append(lang)
        texts.setdefault((steps, target), text)
        per_lang = sizes.setdefault(lang, {})
        per_lang[target] = per_lang.get(target, 0) + 1
    order = list(voice.languages)
    entries = [Entry(texts[key], key[0], key[1], tuple(sorted(langs, key=order.index)))
               for key, langs in merged.items()]
    index = PhraseIndex(entries, common_words(tuple(order)), frozenset(compounding))
    return Lexicon(index, tuple(precedence), voice, sizes)


@functools.cache
def common_words(langs: tuple[str, ...]) -> frozenset[str]:
    """The COMMON_WORDS most frequent words of each of `langs` that wordfreq knows (Dari through
    Persian), as message tokens: a word people wrote for itself, no typo of a lexicon word."""
    from wordfreq import available_languages, get_frequency_dict, get_frequency_list, top_n_list

    known = available_languages(wordlist="small")
    found: set[str] = set()
    for lang in langs:
        code = WORDFREQ_CODES.get(lang, lang)
        if code in known:
            for word in top_n_list(code, COMMON_WORDS, wordlist="small"):
                found.update(tokens(word))
    for cached in (top_n_list, get_frequency_list, get_frequency_dict):
        cached.cache_clear()  # the whole lists stay in memory otherwise (about 20 MB)
    return frozenset(found)


def _word_list(raw: object, key: str, check: Checker) -> list[str]:
    if not isinstance(raw, list):
        check.fail(key, "must be a list of words")
        return []
    out = []
    for i, word in enumerate(raw):
        text = str(word).strip() if isinstance(word, str | int) else ""
        steps = entry_steps(text)
        if '"' in text:
            check.fail(f"{key}[{i}]", f"{word!r} has a quote inside: quote the whole entry "
                       '("a ... b*"), not a part of it')
            continue
        if not steps or GAP in (steps[0], steps[-1]) or any(
                s.endswith("*") and len(s) - 1 < MIN_STEM for s in steps):
            check.fail(f"{key}[{i}]", f"{word!r} is not a word, a phrase or a stem* of "
                       f"{MIN_STEM}+ letters (a ... gap goes between words)")
            continue
        out.append(text)
    return out


def _claim(claimed: dict[tuple[str, tuple[str, ...]], tuple[str, str, str]], lang: str,
           text: str, target: str, where: tuple[str, str], check: Checker | None) -> None:
    steps = entry_steps(text)
    if not steps:
        return
    known = claimed.get((lang, steps))
    if known is None:
        claimed[(lang, steps)] = (target, f"{where[0]}: {where[1]}", text)
    elif known[0] != target and check is not None:
        check.fail(where[1], f"{text!r} is also under {known[1]}")
