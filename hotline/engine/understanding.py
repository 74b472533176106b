"""What a texted message asks for, and in which language: pure, like the rest of the engine.

In this order:
1. a command (STOP, START, CANCEL, FORGET) only when the message is essentially that word: every
   word of it is that command or a filler ("stop", "Stop.", "stop please"); LANGUAGE when it comes
   first, with at most one word after it (the language); STOP too when the message holds one of
   the lexicon's opt-out phrases ("stop sending me messages", "je veux plus recevoir vos sms"),
   never for a mere "stop" in a sentence ("the CPAS told me to stop working");
2. a menu number, when the message is essentially one number (any digit script);
3. a callback keyword as the first word ("RAPPEL je ne comprends pas la lettre"): a callback
   request, the rest of the message its note;
4. else every lexicon entry found anywhere in the message. Where two overlap, the longer wins
   ("aide médicale" over "aide"); then any topic beats help, and topics rank by the lexicon's
   precedence, a deeper topic beating the node above it. Entries of the most likely language
   come first, also where the words were read as another language's entry: "مكتب" is an office
   in Arabic but a school in Dari, "refuse" the French word and the English "refuse*";
5. else the first word as a keyword with a typo in it, as short as 4 letters ("hlup").

The language comes from what was written: each entry found votes for its languages (a word of
several languages splits its vote), the script gives its languages a vote (Cyrillic: Ukrainian
and Russian, Ethiopic: Tigrinya, Arabic: Arabic, Dari and Pashto), the letters that tell a
language from the others of its script another (Dari's پ چ ژ گ ک ی from Arabic, Pashto's ټ ښ ګ ې
from both, Russian's ы э ё from Ukrainian: a share of one vote, by how many of the others they
tell it from), chat-alphabet digits inside Latin words (mosa3ada, wa7ed) one for Arabic, and for
Latin text of two words or more the offline identifier's probabilities, weighed
by the text's length. The remembered language wins whenever it is among the likely ones.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from hotline.content.keywords import Match
from hotline.content.lexicon import FILLER, HELP, OPT_OUT, topic_names
from hotline.content.phrases import Hit, tokens
from hotline.content.sms import SmsContent
from hotline.content.writing import letters_by_script

WHOLE_MESSAGE_COMMANDS = frozenset({"stop", "start", "cancel", "forget"})
ARABIZI = re.compile(r"[A-Z][2379]|[2379][A-Z]")  # 3 for ع, 7 for ح, 2 for ء, 9 for ق
ARABIZI_LANGS = ("ar",)
SCRIPT_VOTE = 1.0
TELLING_VOTE = 1.0
LANGID_MIN_WORDS = 2
LANGID_FULL_LETTERS = 20  # from this many letters on, the identifier weighs as much as a word
MARGIN = 0.25  # languages within this of the best stay likely
MIN_EVIDENCE = 0.3


@dataclass(frozen=True)
class Understanding:
    """What a message asks for. At most one of `command`, `number` and `topic` is set.

    `topic` is a menu node or "help"; `others` are the other topics it names, best first; `note`
    is what the texter wrote along with a callback request. `langs` are the likely languages,
    most likely first (empty: nothing tells).
    """

    command: str | None = None
    args: tuple[str, ...] = ()
    number: str | None = None
    topic: str | None = None
    others: tuple[str, ...] = ()
    note: str = ""
    langs: tuple[str, ...] = ()


def understand(sms: SmsContent, body: str, remembered: str | None = None) -> Understanding:
    """What `body` asks for; `remembered` is the texter's language, if the line knows it."""
    words = tokens(body)
    every = sms.lexicon.index.find(words)
    hits = _longest(every, words)
    spans = {(h.start, h.end) for h in hits}
    # the same words read in another language ("refuse": French, and the English "refuse*")
    alternatives = [h for h in every if (h.start, h.end) in spans and h not in hits]
    fillers = {i for h in hits if h.entry.target == FILLER for i in range(h.start, h.end)}
    content = [w for i, w in enumerate(words) if i not in fillers]
    first = sms.keywords.match(content[0]) if content else None
    # the other words are looked up (the typo-forgiving look-up is slow) only after a command
    matches = [first, *(sms.keywords.match(w) for w in content[1:])] if first and (
        first.target in WHOLE_MESSAGE_COMMANDS) else [first]
    votes = [h.entry.langs for h in hits]

    def langs(extra: Iterable[tuple[str, ...]] = ()) -> tuple[str, ...]:
        every = [*votes, *extra]
        return _likely(sms, _scores(sms, body, words, every), remembered, bool(every))

    command = _command(matches) if len(matches) == len(content) else None
    if command is not None:
        return Understanding(command=command, langs=langs(m.langs for m in matches if m))
    if any(h.entry.target == OPT_OUT for h in hits):
        return Understanding(command="stop", langs=langs())
    if first is not None and first.target == "language" and len(content) <= 2:
        return Understanding(command="language", args=tuple(content[1:]), langs=langs())
    if len(content) == 1 and content[0].isascii() and content[0].isdigit():
        return Understanding(number=content[0], langs=langs())
    if first is not None and first.target in sms.voice.nodes and (
            sms.voice.nodes[first.target].type == "callback"):
        parts = body.strip().split(maxsplit=1)
        note = (parts[1] if len(parts) > 1 else "") if words[0] == content[0] else body.strip()
        return Understanding(topic=first.target, others=_topics(sms, hits), note=note,
                             langs=langs([first.langs]))
    likely = langs()
    found = _topics(sms, [h for h in [*hits, *alternatives]
                          if set(h.entry.langs) & set(likely[:1])]) or _topics(sms, hits)
    if found:
        callback = sms.voice.nodes[found[0]].type == "callback"
        return Understanding(topic=found[0], others=found[1:],
                             note=body.strip() if callback else "", langs=likely)
    if any(h.entry.target == HELP for h in hits):
        return Understanding(topic=HELP, langs=likely)
    if first is not None and first.target in topic_names(sms.voice) and (
            content[0] not in sms.lexicon.index.common):  # "hlup": a keyword typo; "beni" is
        # Turkish for "me", no BANI (Romanian money) mistyped
        return Understanding(topic=first.target, langs=langs([first.langs]))
    return Understanding(langs=likely)


def _command(matches: list[Match | None]) -> str | None:
    """The command every word names, if they all name the same one."""
    targets = {m.target if m else None for m in matches}
    if len(targets) == 1 and (target := next(iter(targets))) in WHOLE_MESSAGE_COMMANDS:
        return target
    return None


def _longest(hits: list[Hit], words: list[str]) -> list[Hit]:
    """The hits left when, of two that overlap, the one naming more words is kept, and of two
    as long, the one whose first word was written as in the lexicon ("INTERPRETER" is the English
    word, not the French stem "interpret*"; "السلام" the Arabic keyword, not "سلام" with ال), then
    the longer stem ("suspendue" is the French "suspendu*" before the English "suspend*")."""
    kept: list[Hit] = []
    for hit in sorted(hits, key=lambda h: (-h.entry.size, h.entry.target == FILLER,
                                           h.entry.steps[0] != words[h.start], h.start,
                                           -_stem_length(h.entry.steps[0]), h.entry.text)):
        if not any(hit.overlaps(k) for k in kept):
            kept.append(hit)
    return kept


def _stem_length(step: str) -> int:
    return len(step) if step.endswith("*") else 0


def _topics(sms: SmsContent, hits: list[Hit]) -> tuple[str, ...]:
    """The topics the hits name (help and fillers aside), the winner first."""
    ranked = sorted((h for h in hits if h.entry.target not in (FILLER, HELP, OPT_OUT)),
                    key=lambda h: (sms.lexicon.rank(h.entry.target), -h.entry.size, h.start))
    return tuple(dict.fromkeys(h.entry.target for h in ranked))


def _scores(sms: SmsContent, body: str, words: list[str],
            votes: list[tuple[str, ...]]) -> dict[str, float]:
    """Each language's weight of evidence."""
    scores: dict[str, float] = defaultdict(float)
    for langs in votes:
        for lang in langs:
            scores[lang] += 1 / len(langs)
    counts = letters_by_script(body)
    others = {s: n for s, n in counts.items() if s not in ("latin", "other")}
    profile = sms.writing
    if others:
        script = max(others, key=others.__getitem__)
        letters = set(body)
        for lang in list(scores):
            if profile.scripts.get(lang) != script:
                del scores[lang]
        for lang, its in profile.scripts.items():
            if its == script:
                scores[lang] += SCRIPT_VOTE + TELLING_VOTE * profile.telling_share(lang, letters)
        return scores
    latin = [w for w in words if not w.isdigit()]
    if any(ARABIZI.search(w) for w in latin):
        for lang in ARABIZI_LANGS:
            scores[lang] += 1
    if len(latin) >= LANGID_MIN_WORDS and sms.latin_id is not None:
        weight = min(1.0, counts.get("latin", 0) / LANGID_FULL_LETTERS)
        for lang, p in sms.latin_id.probabilities(body).items():
            scores[lang] += weight * p
    return scores


def _likely(sms: SmsContent, scores: dict[str, float], remembered: str | None,
            voted: bool) -> tuple[str, ...]:
    """The likely languages, best first; only the remembered one when it is among them. Without
    a word of the lexicon, weak evidence (a short text's identifier guess) tells nothing."""
    best = max(scores.values(), default=0.0)
    if best <= 0 or (best < MIN_EVIDENCE and not voted):
        return (remembered,) if remembered else ()
    order = list(sms.languages)
    likely = sorted((lang for lang, s in scores.items() if s >= best - MARGIN and lang in order),
                    key=lambda lang: (-scores[lang], order.index(lang)))
    return (remembered,) if remembered in likely else tuple(likely)
