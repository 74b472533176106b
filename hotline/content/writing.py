"""How each language of the line is written, learnt from its own SMS texts, and an offline language
identifier for the Latin-script ones.

- `script_of(char)`: the writing system of a letter (latin, cyrillic, arabic, ethiopic, other).
- `WritingProfile`: each language's script (the one most of its SMS texts use) and, outside the
  Latin script, its telling letters against each other language of that script (letters its texts
  use and the other's never do: Dari's پ چ ژ گ ک ی against Arabic, Arabic's ة ي ك against Dari,
  Pashto's ټ ښ ګ ې against both; case-folded). Nothing here is written per language: a new
  language's texts teach it.
- `LatinLanguageId`: py3langid's model (inside its wheel, no network), restricted to the line's
  Latin-script languages it knows, loaded once per process.
"""

from __future__ import annotations

import functools
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

SCRIPTS = {"LATIN": "latin", "CYRILLIC": "cyrillic", "ARABIC": "arabic", "ETHIOPIC": "ethiopic"}


@functools.lru_cache(maxsize=4096)
def script_of(char: str) -> str:
    """The script of one letter ("other" for anything else, digits and punctuation included)."""
    if not char.isalpha():
        return "other"
    name = unicodedata.name(char, "")
    return next((script for prefix, script in SCRIPTS.items() if name.startswith(prefix)),
                "other")


def letters_by_script(text: str) -> Counter[str]:
    """How many letters of each script `text` has."""
    return Counter(script_of(c) for c in text if c.isalpha())


@dataclass(frozen=True)
class WritingProfile:
    """Each language's script and telling letters."""

    scripts: dict[str, str]
    telling: dict[str, frozenset[str]]  # letters no other language of the script uses
    # language -> each other language of its script -> letters it uses and that one never does
    versus: dict[str, dict[str, frozenset[str]]] = field(default_factory=dict)

    def telling_share(self, lang: str, letters: set[str]) -> float:
        """How much `letters` (a message's) tell `lang` from the other languages of its script:
        the share of them that the message has a letter against (1.0 for a script's only
        language when it has one of its letters). Dari's ک tells it from Arabic, not from
        Pashto: 0.5 with both there."""
        folded = {c.lower() for c in letters}
        others = self.versus.get(lang, {})
        if not others:
            return 1.0 if self.telling.get(lang, frozenset()) & folded else 0.0
        return sum(1 for own in others.values() if own & folded) / len(others)

    @classmethod
    def learn(cls, texts: dict[str, Iterable[str]]) -> WritingProfile:
        """From every language's texts (language code -> its texts)."""
        letters: dict[str, set[str]] = {}
        scripts: dict[str, str] = {}
        for code, some in texts.items():
            joined = "".join(some)
            letters[code] = {c.lower() for c in joined if c.isalpha()}
            counts = letters_by_script(joined)
            scripts[code] = counts.most_common(1)[0][0] if counts else "latin"
        telling: dict[str, frozenset[str]] = {}
        for code, own in letters.items():
            if scripts[code] == "latin":  # accents and rare letters tell French from Dutch badly
                telling[code] = frozenset()
                continue
            others = set().union(*(letters[o] for o in letters
                                   if o != code and scripts[o] == scripts[code]))
            telling[code] = frozenset(c for c in own - others if script_of(c) == scripts[code])
        versus = {code: {other: frozenset(c for c in own - letters[other]
                                          if script_of(c) == scripts[code])
                         for other in letters if other != code and scripts[other] == scripts[code]}
                  for code, own in letters.items() if scripts[code] != "latin"}
        return cls(scripts, telling, versus)


class LatinLanguageId:
    """Probabilities of the line's Latin-script languages for a text (py3langid, offline)."""

    def __init__(self, langs: tuple[str, ...]):
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        self._identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        known = set(self._identifier.nb_classes)
        self.langs = tuple(lang for lang in langs if lang in known)
        self._identifier.set_languages(list(self.langs))

    def probabilities(self, text: str) -> dict[str, float]:
        """Each language's probability (summing to 1), or {} when no language is known."""
        if len(self.langs) < 2:
            return dict.fromkeys(self.langs, 1.0)
        return {lang: float(p) for lang, p in self._identifier.rank(text.lower())}


@functools.cache
def latin_language_id(langs: tuple[str, ...]) -> LatinLanguageId:
    """The identifier for `langs`, built once per process (reading the model takes a second)."""
    return LatinLanguageId(langs)
