"""Finding lexicon words and phrases anywhere in a message.

A message becomes tokens (`tokens`): normalized as keywords are (upper case, no accents or Arabic
diacritics, Arabic letter forms folded, any digits as 0-9), split at anything that is not a letter
or a digit and where Latin letters meet another script ("الCPAS" is two tokens, "c.p.a.s" four,
"mosa3ada" one).

An entry is one or more steps, written in the lexicon as words separated by spaces:
- `word`: that word; a word of 5 or more letters also with one letter wrong, missing, extra or two
  swapped (only when the token is no entry's word; a common word of the line's languages only
  with another ending, as a form of the same word: "jours" is no "cours" mistyped, "ШКОЛИ" is
  "ШКОЛА"); an Arabic-script word also with the article, a
  conjunction or a preposition before it (ال و ف ب ل ك, together: وال بال لل…) and a possessive or
  plural ending after it (ي ك ه ها نا هم كم ات ين ون ان ام اش را), so write it bare: an entry
  written with the article matches only words written with it;
- `stem*`: any word that starts with `stem` (3 letters at least);
- a word with a French elided article or pronoun glued before it ("lasile", "lassurance": l'),
  when it is no entry's word and starts with none;
- `...`: up to MAX_GAP other words between the steps on either side of it.

In a language whose lexicon says `compounds: true` (Dutch), a word that is no entry's word and
starts with none ends with one as its head: "computercursus" is a "cursus", "huurschulden" are
"schuld*". Only the longest such head of MIN_HEAD letters or more counts, after MIN_STEM others.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from hotline.content.keywords import ARABIC_FOLD, DIGITS, one_edit_apart

GAP = "..."
MAX_GAP = 3
MIN_STEM = 3
MIN_TYPO_LENGTH = 5
MIN_HEAD = 4
MAX_WORD = 30  # longer tokens are no word of any lexicon: looked up exactly only
TOKEN = re.compile(r"[A-Z0-9]+|[^\W_A-Z0-9]+")
ARABIC_LETTER = re.compile(r"[\u0620-\u064A\u066E-\u06D3]")
ARABIC_PREFIXES = ("وال", "بال", "فال", "كال", "لل", "ال", "و", "ف", "ب", "ل", "ك")
ARABIC_SUFFIXES = ("هما", "كم", "هم", "ها", "نا", "ني", "ات", "ين", "ون", "ان", "ام", "اش", "را",
                   "ي", "ك", "ه", "م", "ت", "ش")
MIN_ARABIC_STEM = 3
ELISION = re.compile(r"(?:QU|[DLJMNSTC])(?=[AEIOUYH])")
MIN_ELIDED = 5
# Latin letters typed inside a Cyrillic word (a keyboard switched mid-word: "лiки" with a Latin
# i): read as the Cyrillic letters they look like, so the word stays one word.
CYRILLIC_LOOKALIKE = dict(zip("aceiopxyACEIOPXYK", "асеіорхуАСЕІОРХУК", strict=True))
_CYRILLIC = "\u0400-\u04FF"
HOMOGLYPH = re.compile(f"(?<=[{_CYRILLIC}])[{''.join(CYRILLIC_LOOKALIKE)}]+"
                       f"|[{''.join(CYRILLIC_LOOKALIKE)}]+(?=[{_CYRILLIC}])")


def tokens(text: str) -> list[str]:
    """The normalized tokens of `text`, in order."""
    text = HOMOGLYPH.sub(lambda m: CYRILLIC_LOOKALIKE[m.group()], text)
    text = text.translate(DIGITS).translate(ARABIC_FOLD)
    kept = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return TOKEN.findall(unicodedata.normalize("NFC", kept).upper())


def arabic_forms(token: str) -> set[str]:
    """`token` and what it may be without an Arabic-script prefix and/or suffix."""
    forms = {token}
    if not ARABIC_LETTER.match(token):
        return forms
    bare = [token] + [token[len(p):] for p in ARABIC_PREFIXES
                      if token.startswith(p) and len(token) - len(p) >= MIN_ARABIC_STEM]
    for word in bare:
        forms.add(word)
        for suffix in ARABIC_SUFFIXES:
            stem = word[:-len(suffix)]
            if word.endswith(suffix) and len(stem) >= MIN_ARABIC_STEM:
                forms.add(stem)
                if stem.endswith("ت"):  # مساعدتي: the taa marbuta (folded to ه) before a suffix
                    forms.add(stem[:-1] + "ه")
    return forms


@dataclass(frozen=True)
class Entry:
    """A word or phrase of the lexicon: what it means (`target`) in which languages."""

    text: str
    steps: tuple[str, ...]
    target: str
    langs: tuple[str, ...]

    @property
    def size(self) -> int:
        """How many words the entry names (gaps not counted)."""
        return sum(1 for s in self.steps if s != GAP)


@dataclass(frozen=True)
class Hit:
    """An entry found in a message, over tokens `start` to `end` (exclusive)."""

    entry: Entry
    start: int
    end: int

    def overlaps(self, other: Hit) -> bool:
        return self.start < other.end and other.start < self.end


def entry_steps(text: str) -> tuple[str, ...]:
    """The steps of an entry as written: tokens, `stem*` kept whole, `...` as a gap."""
    steps: list[str] = []
    for part in text.split():
        if part == GAP:
            steps.append(GAP)
        elif part.endswith("*"):
            words = tokens(part[:-1])
            steps.extend([*words[:-1], f"{words[-1]}*"] if words else [])
        else:
            steps.extend(tokens(part))
    return tuple(steps)


class PhraseIndex:
    """Every entry, indexed so that finding them all in a message costs a few dict look-ups a
    token: exact forms, prefixes, and deletions for one-typo matches (a SymSpell-style index)."""

    def __init__(self, entries: Iterable[Entry], common: frozenset[str] = frozenset(),
                 compounding: frozenset[str] = frozenset()):
        self.entries = list(entries)
        self.common = common  # tokens that are words in their own right: never a typo
        self._exact: dict[str, set[str]] = {}
        self._stems: dict[str, set[str]] = {}
        self._deletions: dict[str, set[str]] = {}
        self._starting: dict[str, list[Entry]] = {}
        self._heads: dict[str, str] = {}  # a compound's head, or its stem's start -> the step
        for entry in self.entries:
            if compounding.intersection(entry.langs):
                for step in entry.steps:
                    word = step.rstrip("*")
                    if step != GAP and len(word) >= MIN_HEAD and word.isascii():
                        self._heads[word] = step
            for step in entry.steps:
                if step == GAP:
                    continue
                if step.endswith("*"):
                    self._stems.setdefault(step[:-1], set()).add(step)
                    continue
                self._exact.setdefault(step, set()).add(step)
                if len(step) >= MIN_TYPO_LENGTH:
                    for deleted in _deletions(step):
                        self._deletions.setdefault(deleted, set()).add(step)
            self._starting.setdefault(entry.steps[0], []).append(entry)

    def steps_of(self, token: str) -> set[str]:
        """The entry steps a message token satisfies: the words it is (for an Arabic-script
        token, also without its affixes) or starts with, if any; else those it is with a typo."""
        found = {form for form in arabic_forms(token) if form in self._exact}
        if len(token) > MAX_WORD:
            return found
        for k in range(MIN_STEM, len(token) + 1):
            found |= self._stems.get(token[:k], set())
        if not found and self._heads and token.isascii():
            found = self._head_of(token)
        if found or len(token) < MIN_TYPO_LENGTH - 1:
            return found
        if (elided := ELISION.match(token)) and len(token) - elided.end() >= MIN_ELIDED and (
                token[elided.end():] in self._exact):  # "lasile": l'asile, glued
            return {token[elided.end():]}
        near = set(self._deletions.get(token, ()))
        for deleted in _deletions(token):
            near |= self._exact.get(deleted, set()) | self._deletions.get(deleted, set())
        common = token in self.common
        return {w for w in near if len(w) >= MIN_TYPO_LENGTH and one_edit_apart(token, w)
                and (not common or _same_stem(token, w))}

    def _head_of(self, token: str) -> set[str]:
        """The step a compound `token` ends with (its longest head), if any."""
        for start in range(MIN_STEM, len(token) - MIN_HEAD + 1):
            tail = token[start:]
            for end in range(len(tail), MIN_HEAD - 1, -1):
                step = self._heads.get(tail[:end])
                if step is not None and (end == len(tail) or step.endswith("*")):
                    return {step}
        return set()

    def find(self, words: list[str]) -> list[Hit]:
        """Every entry found in the tokens `words`, wherever it starts."""
        satisfied = [self.steps_of(w) for w in words]
        hits = []
        for start, steps in enumerate(satisfied):
            for step in steps:
                for entry in self._starting.get(step, ()):
                    end = _match_rest(entry.steps, 1, satisfied, start + 1)
                    if end is not None:
                        hits.append(Hit(entry, start, end))
        return hits


def _match_rest(steps: tuple[str, ...], i: int, satisfied: list[set[str]], at: int) -> int | None:
    """Where the entry's steps from `i` on end when they match from token `at`, else None."""
    if i == len(steps):
        return at
    if steps[i] == GAP:
        for skip in range(MAX_GAP + 1):
            if at + skip < len(satisfied) and steps[i + 1] in satisfied[at + skip]:
                end = _match_rest(steps, i + 2, satisfied, at + skip + 1)
                if end is not None:
                    return end
        return None
    if at < len(satisfied) and steps[i] in satisfied[at]:
        return _match_rest(steps, i + 1, satisfied, at + 1)
    return None


def _same_stem(a: str, b: str) -> bool:
    """Whether `a` and `b` differ only in their last two letters (another form of one word:
    ШКОЛИ and ШКОЛА, DEMANDER and DEMANDE), not at the start or inside (THERE and WHERE)."""
    shared = 0
    while shared < min(len(a), len(b)) and a[shared] == b[shared]:
        shared += 1
    return shared >= min(len(a), len(b)) - 2


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1:] for i in range(len(word))}
