"""What an SMS costs: its encoding and segment count, as GSM 03.38 counts them.

GSM-7: the basic set costs one septet a character, the extension set (^ { } [ ] ~ \\ | € and form
feed) two; 160 septets fit one segment, 153 each once it is split (an escape pair is never
cut). Any other character makes the
whole message UCS-2: 70 code units in one segment, 67 each once split, a character outside the
Basic Multilingual Plane (most emoji) being a surrogate pair of two units. A part never ends inside
a grapheme cluster (an emoji with its skin tone, an Arabic letter with its vowel mark, a ZWJ
family): the whole cluster goes to the next part, as Twilio's segment calculator does it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import regex

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")
# Characters French and Dutch writers use that are not GSM-7, with what to write instead.
GSM7_ALTERNATIVES = {
    "ç": "c", "ê": "e", "î": "i", "ô": "o", "â": "a", "û": "u", "ë": "e", "ï": "i", "œ": "oe",
    "Œ": "OE", "Ê": "E", "È": "E", "À": "A", "Â": "A", "Î": "I", "Ô": "O", "Û": "U", "Ë": "E",
    "Ï": "I", "’": "'", "‘": "'", "“": '"', "”": '"', "«": '"', "»": '"', "–": "-", "—": "-",
    "…": "...", "\u00a0": " ",
}


@dataclass(frozen=True)
class Cost:
    """An SMS's encoding ("GSM-7" or "UCS-2"), its length in septets or code units, its segments."""

    encoding: str
    units: int
    segments: int


def is_gsm7(text: str) -> bool:
    """True when every character of `text` is in the GSM-7 basic or extension set."""
    return all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text)


@functools.lru_cache(maxsize=4096)
def cost(text: str) -> Cost:
    """The encoding, length and segment count of `text` sent as one SMS (kept per text: an SMS
    answer counts the segments of the same content texts again and again)."""
    if is_gsm7(text):
        weights = [2 if c in GSM7_EXTENSION else 1 for c in text]
        return Cost("GSM-7", sum(weights), _segments(weights, 160, 153))
    weights = [len(g.encode("utf-16-le")) // 2 for g in _graphemes(text)]
    return Cost("UCS-2", sum(weights), _segments(weights, 70, 67))


def _graphemes(text: str) -> list[str]:
    """Extended grapheme clusters (\\X); CR LF as two characters, as in Twilio's calculator."""
    return [c for g in regex.findall(r"\X", text) for c in ([*g] if g == "\r\n" else [g])]


def _segments(weights: list[int], single: int, part: int) -> int:
    """Parts as a phone splits them: an escape pair or a grapheme cluster is never cut in two."""
    if sum(weights) <= single:
        return 1
    parts, used = 1, 0
    for weight in weights:
        if used + weight > part:
            parts, used = parts + 1, 0
        used += weight
    return parts


def ucs2_culprits(text: str) -> dict[str, str | None]:
    """Each character that forces UCS-2, with its GSM-7 alternative when there is one."""
    return {c: GSM7_ALTERNATIVES.get(c) for c in dict.fromkeys(text) if not is_gsm7(c)}
