"""Forgiving keyword matching for SMS: case, accents, punctuation, small typos, any digit script."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Arabic-Indic (٠-٩) and Persian (۰-۹) digits read as 0-9.
DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
# Arabic letters written several ways: hamza carriers and final forms folded to one letter.
# Persian and Dari keyboards type ی and ک where Arabic ones type ي and ك: the same letters here.
ARABIC_FOLD = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه", "ؤ": "و",
                             "ئ": "ي", "ـ": None, "ی": "ي", "ک": "ك"})
EDGE_PUNCTUATION = re.compile(r"^[\W_]+|[\W_]+$")
MIN_TYPO_LENGTH = 4


def normalize(text: str) -> str:
    """Upper case, no accents or Arabic diacritics, digits as 0-9, no punctuation at the edges."""
    text = text.translate(DIGITS).translate(ARABIC_FOLD)
    decomposed = unicodedata.normalize("NFKD", text)
    kept = "".join(c for c in decomposed if not unicodedata.combining(c))
    return EDGE_PUNCTUATION.sub("", unicodedata.normalize("NFC", kept).upper())


def words(body: str) -> list[str]:
    """The normalized words of a message, empty ones left out."""
    return [w for w in (normalize(part) for part in body.split()) if w]


def one_edit_apart(a: str, b: str) -> bool:
    """True when `a` becomes `b` by one substitution, insertion, deletion or swap of neighbours."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (
            len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]]
            and a[diff[1]] == b[diff[0]]
        )
    short, long = (a, b) if len(a) < len(b) else (b, a)
    i = next((i for i in range(len(short)) if short[i] != long[i]), len(short))
    return short[i:] == long[i + 1:]


@dataclass(frozen=True)
class Match:
    """What a word means: a target (node name or command) and the languages it belongs to."""

    target: str
    langs: tuple[str, ...]


class KeywordIndex:
    """Keywords by normalized spelling; `match` forgives one typo in words of 4+ letters.

    `clashes` lists spellings that name two different targets: content errors.
    """

    def __init__(self, keywords: dict[str, dict[str, list[str]]]):
        self._exact: dict[str, Match] = {}
        self.clashes: list[str] = []
        for target, by_lang in keywords.items():
            for lang, spellings in by_lang.items():
                for spelling in spellings:
                    word = normalize(str(spelling))
                    known = self._exact.get(word)
                    if known is None:
                        self._exact[word] = Match(target, (lang,))
                    elif known.target != target:
                        self.clashes.append(f"{spelling!r} means both {known.target} and {target}")
                    elif lang not in known.langs:
                        self._exact[word] = Match(target, (*known.langs, lang))

    def is_keyword(self, body: str) -> bool:
        """True when `body` is one keyword, spelt exactly (case, accents and edge punctuation
        aside): the content's own words, nothing a texter made up."""
        parts = body.split()
        return len(parts) == 1 and normalize(parts[0]) in self._exact

    def match(self, word: str) -> Match | None:
        """The meaning of one normalized word, or None when it is unknown or ambiguous."""
        if word in self._exact:
            return self._exact[word]
        if len(word) < MIN_TYPO_LENGTH:
            return None
        near = [m for w, m in self._exact.items()
                if len(w) >= MIN_TYPO_LENGTH and one_edit_apart(word, w)]
        if len({m.target for m in near}) != 1:
            return None
        langs: list[str] = []
        for m in near:
            langs.extend(lang for lang in m.langs if lang not in langs)
        return Match(near[0].target, tuple(langs))
