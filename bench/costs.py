"""What the line costs a texter: SMS segments per template and language. (What it costs a
caller in seconds is `hotline.content.budget`, the same figures `hotline check` enforces.)"""

from __future__ import annotations

from dataclasses import dataclass, field

from hotline.content.segments import cost
from hotline.content.sms import SmsContent


@dataclass
class SmsRow:
    """One template: segments per language ('*' for the multilingual texts), UCS-2 or not."""

    name: str
    segments: dict[str, int] = field(default_factory=dict)
    ucs2: dict[str, bool] = field(default_factory=dict)


def sms_table(sms: SmsContent) -> tuple[list[SmsRow], dict[str, tuple[float, int, int]]]:
    """Rows per template, and per language (mean segments, worst, budget)."""
    rows: dict[str, SmsRow] = {}
    for (lang, name), text in sms.all_texts().items():
        price = cost(text)
        row = rows.setdefault(name, SmsRow(name))
        row.segments[lang] = price.segments
        row.ucs2[lang] = price.encoding == "UCS-2"
    per_lang = {}
    for lang in [*sms.languages, "*"]:
        counts = [r.segments[lang] for r in rows.values() if lang in r.segments]
        if counts:
            per_lang[lang] = (sum(counts) / len(counts), max(counts), sms.budget(lang))
    return list(rows.values()), per_lang
