"""Segment counts, checked against independent implementations (smsutil, the gsm0338 codec),
and the content check that keeps every template within its budget."""

from __future__ import annotations

import gsm0338  # noqa: F401  (registers the "gsm03.38" codec)
import pytest
import smsutil
from click.testing import CliRunner

from hotline.cli import main
from hotline.content.ivr import ContentError, load_content
from hotline.content.segments import cost, ucs2_culprits
from hotline.content.sms import load_sms_content
from tests.helpers import ROOT, edit


def independent(text: str) -> tuple[str, int, int]:
    """(encoding, units, segments) by smsutil's splitter and the gsm03.38 codec."""
    split = smsutil.split(text)
    if split.encoding == "gsm0338":
        return "GSM-7", len(text.encode("gsm03.38")), len(split.parts)
    return "UCS-2", len(text.encode("utf-16-be")) // 2, len(split.parts)


ALL_TEXTS = load_sms_content(load_content(ROOT)).all_texts()


@pytest.mark.parametrize("key", list(ALL_TEXTS), ids=[f"{a}-{b}" for a, b in ALL_TEXTS])
def test_counts_match_an_independent_implementation_on_every_template(key):
    text = ALL_TEXTS[key]
    price = cost(text)
    assert (price.encoding, price.units, price.segments) == independent(text)


@pytest.mark.parametrize(("text", "expected"), [
    ("a" * 160, ("GSM-7", 160, 1)),
    ("a" * 161, ("GSM-7", 161, 2)),
    ("a" * 306, ("GSM-7", 306, 2)),
    ("a" * 307, ("GSM-7", 307, 3)),
    ("€" * 80, ("GSM-7", 160, 1)),
    ("€" * 81, ("GSM-7", 162, 2)),
    ("a" * 152 + "€" + "a" * 10, ("GSM-7", 164, 2)),  # the escape pair is not cut
    ("a" * 152 + "€" + "a" * 152, ("GSM-7", 306, 3)),
    ("é" * 160, ("GSM-7", 160, 1)),
    ("ç" + "a" * 69, ("UCS-2", 70, 1)),
    ("ê" * 71, ("UCS-2", 71, 2)),
    ("😀" * 35, ("UCS-2", 70, 1)),
    ("😀" * 36, ("UCS-2", 72, 2)),
    ("aa" + "😀" * 66, ("UCS-2", 134, 3)),  # a surrogate pair is not cut: 66 + 66 + 2
    ("ع" * 201, ("UCS-2", 201, 3)),
    ("ع" * 202, ("UCS-2", 202, 4)),
])
def test_known_counts(text, expected):
    price = cost(text)
    assert (price.encoding, price.units, price.segments) == expected
    assert independent(text)[2] == expected[2]


def test_culprits_name_the_character_and_its_alternative():
    assert ucs2_culprits("Reçu à l’hôpital") == {"ç": "c", "’": "'", "ô": "o"}
    assert ucs2_culprits("Reçu") == {"ç": "c"}
    assert ucs2_culprits("déjà été") == {}


def test_a_ucs2_character_in_french_is_named_with_its_alternative(content_copy):
    edit(content_copy / "sms_templates/fr.yaml",
         lambda d: d["texts"].update(amu="Aide médicale urgente: reçu à l’hôpital."))
    with pytest.raises(ContentError) as caught:
        load_sms_content(load_content(content_copy))
    messages = [str(p) for p in caught.value.problems]
    assert "sms_templates/fr.yaml: texts.amu: 'ç' switches the SMS to UCS-2 (double cost); " \
           "write 'c' instead" in messages
    assert any("'’' switches" in m for m in messages)


def test_over_budget_template_fails_the_check(content_copy):
    edit(content_copy / "sms_templates/nl.yaml", lambda d: d["texts"].update(amu="a" * 307))
    result = CliRunner().invoke(main, ["check"], env={"HOTLINE_CONTENT_ROOT": str(content_copy)})
    assert result.exit_code == 1
    # the item's text is sent with its shortcut code after it: " Bel ons, druk #41"
    assert "sms_templates/nl.yaml: texts.amu: 3 segments (325 GSM-7 units); the budget is 2" in (
        result.output)


def test_arabic_budget_is_three_segments(content_copy):
    edit(content_copy / "sms_templates/ar.yaml", lambda d: d["texts"].update(amu="ع" * 202))
    with pytest.raises(ContentError, match=r"ar.yaml: texts.amu: 4 segments"):
        load_sms_content(load_content(content_copy))


def test_assembled_menus_count_too(content_copy):
    edit(content_copy / "sms_templates/en.yaml",
         lambda d: d["labels"].update({k: "x" * 28 for k in ("cpas", "money", "amu")}) or
         d["texts"].update(menu_header="h" * 200))
    with pytest.raises(ContentError, match=r"texts.menu:main: \d segments"):
        load_sms_content(load_content(content_copy))


def test_missing_template_and_label(content_copy):
    def drop(d):
        d["texts"].pop("digital")
        d["labels"].pop("courses")

    edit(content_copy / "sms_templates/ar.yaml", drop)
    with pytest.raises(ContentError) as caught:
        load_sms_content(load_content(content_copy))
    messages = [str(p) for p in caught.value.problems]
    assert "sms_templates/ar.yaml: texts.digital: missing" in messages
    assert "sms_templates/ar.yaml: labels.courses: missing" in messages


def test_keyword_meaning_two_things(content_copy):
    edit(content_copy / "sms_templates/keywords.yaml",
         lambda d: d["keywords"]["amu"]["fr"].append("ASILE"))
    with pytest.raises(ContentError, match="'ASILE' means both"):
        load_sms_content(load_content(content_copy))


def test_check_prints_segments_per_template_per_language():
    result = CliRunner().invoke(main, ["check"], env={"HOTLINE_CONTENT_ROOT": str(ROOT)})
    assert result.exit_code == 0, result.output
    assert "SMS cost in segments" in result.output
    row = next(line for line in result.output.splitlines() if line.startswith("ris_amounts"))
    assert row.split()[1:] == ["2", "2", "2", "3", "3", "3", "3", "3", "2", "2", "2", "3"]


@pytest.mark.parametrize(("text", "expected"), [
    # An emoji with a skin tone is one character of four units: it goes whole to the next part.
    ("a" * 65 + "👍🏽" + "a" * 65, ("UCS-2", 134, 3)),  # 65 | 👍🏽 + 63 | 2
    # An Arabic letter with its vowel mark (fatha) is one character of two units.
    ("ع" * 66 + "عَ" + "ع" * 66, ("UCS-2", 134, 3)),  # 66 | عَ + 65 | 1
    # A family of four joined by ZWJ: eleven units, never cut.
    ("a" * 60 + "👨‍👩‍👧‍👦" + "a" * 60, ("UCS-2", 131, 3)),  # 60 | 👨‍👩‍👧‍👦 + 56 | 4
    ("👍🏽" * 17 + "a" * 2, ("UCS-2", 70, 1)),
])
def test_a_character_of_several_code_points_is_never_cut_between_parts(text, expected):
    """Twilio's segment calculator keeps each grapheme cluster whole (its `_buildSegments`
    moves a cluster that does not fit to the next part), and so do phones."""
    price = cost(text)
    assert (price.encoding, price.units, price.segments) == expected
