"""Caller time as a content rule, shortcut codes, pronunciation: what a caller hears, and when."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner

from hotline.cli import main
from hotline.content.budget import BUDGET, ENFORCED, caller_times, words
from hotline.content.ivr import ContentError, load_content
from hotline.content.sms import load_sms_content
from tests.helpers import ROOT, edit, twilio_post, twiml


@pytest.fixture(scope="module")
def content():
    return load_content(ROOT)


@pytest.mark.parametrize("lang", ENFORCED)
def test_french_dutch_and_english_are_within_the_budget(content, lang):
    times = caller_times(content, lang)
    assert times.over_budget() == [], times.figures()
    assert len(times.items) == sum(1 for n in content.nodes.values() if n.type == "info")


def test_every_language_is_reported_with_the_same_figures(content):
    for lang in content.languages:
        figures = caller_times(content, lang).figures()
        assert set(figures) == set(BUDGET)
        first, returning = figures["median item"]
        assert 0 < returning < first  # a returning caller skips the language menu and headline


def test_the_figures_follow_the_engine_and_the_real_durations(content):
    """With every utterance one second long, an item's time is the number of utterances heard
    before it; a known duration replaces the estimate."""
    times = caller_times(content, "en", lambda u: 1.0)
    by_item = {i.item: i for i in times.items}
    # first call: 3 language options (fr, nl, en), welcome, headline, "press any time",
    # then "CPAS: 1.", "CPAS said no: 2." -> the item starts after 8 seconds
    assert by_item["cpas_appeal"].first == 8.0
    # returning: the short welcome, then the same two options
    assert by_item["cpas_appeal"].returning == 3.0
    # a submenu item: main options up to "Interpreters, courses: 6.", then its three options
    assert by_item["digital"].returning == 1 + 6 + 3
    assert not times.estimated
    assert times.useful_first == 3 + 1  # the headline starts after the welcome


def test_a_second_page_language_is_timed_through_both_pages(content):
    """With every utterance one second long: Español is heard on page 1 after the 8 first-page
    languages and Türkçe's "9", then on page 2 after Türkçe's "1"; then the welcome, headline,
    "press any time" and two main-menu options. A language the line does not offer (Pashto,
    not voice-ready) is not on the menu the others are timed through."""
    second = lambda u: 1.0  # noqa: E731
    spanish = {i.item: i for i in caller_times(content, "es", second).items}
    assert spanish["cpas_appeal"].first == (8 + 2) + 2 + 3 + 2
    assert spanish["cpas_appeal"].returning == 3.0
    pashto = {i.item: i for i in caller_times(content, "ps", second).items}
    assert pashto["cpas_appeal"].first == (8 + 4) + 4 + 3 + 2
    offered = [c for c in content.languages if c not in ("prs", "ps")]
    romanian = {i.item: i for i in caller_times(content, "ro", second, offered).items}
    assert romanian["cpas_appeal"].first == (7 + 3) + 3 + 3 + 2  # no Dari, no Pashto
    russian = {i.item: i for i in caller_times(content, "ru", second, offered).items}
    assert russian["cpas_appeal"].first == 7 + 3 + 2  # Russian, 8th key, is 7th said


def test_a_spoken_colon_is_not_a_word():
    assert words("CPAS : 1.") == 2 and words("Le CPAS dit non : 2.") == 5


def test_check_prints_the_table_and_passes(tmp_path):
    result = CliRunner().invoke(main, ["check"], env={"HOTLINE_AUDIO_ROOT": str(tmp_path)})
    assert result.exit_code == 0, result.output
    table = result.output[result.output.index("caller time:"):].splitlines()
    for lang in ("fr", "nl", "en"):
        row = next(line for line in table if line.startswith(f"{lang} "))
        assert row.endswith("within budget"), row


def test_check_fails_when_french_menus_get_too_long(content_copy, tmp_path):
    long = "Pour tout ce qui concerne le centre public d'action sociale, appuyez sur {digit}."
    edit(content_copy / "ivr_scripts/fr.yaml", lambda d: d["prompts"].update(opt_cpas=long))
    result = CliRunner().invoke(main, ["check"], env={"HOTLINE_CONTENT_ROOT": str(content_copy),
                                                      "HOTLINE_AUDIO_ROOT": str(tmp_path)})
    assert result.exit_code == 1
    assert "fr: over budget: median item on a first call" in result.output


def test_a_code_used_twice_or_not_two_digits_stops_the_content(content_copy):
    def change(menu):
        menu["nodes"]["amu"]["code"] = "21"
        menu["nodes"]["digital"]["code"] = "737"
    edit(content_copy / "ivr_scripts/menu.yaml", change)
    with pytest.raises(ContentError) as caught:
        load_content(content_copy)
    problems = [str(p) for p in caught.value.problems]
    assert "ivr_scripts/menu.yaml: nodes.amu.code: 21 is already the code of cpas_appeal" in \
        problems or "ivr_scripts/menu.yaml: nodes.cpas_appeal.code: 21 is already the code of " \
        "amu" in problems
    assert "ivr_scripts/menu.yaml: nodes.digital.code: must be 2 digits, not '737'" in problems


def test_every_item_has_a_code_and_its_sms_prints_it(content):
    sms = load_sms_content(content)
    for node in content.nodes.values():
        if node.type == "info":
            assert node.code and content.item_by_code(node.code) is node
            for lang in content.languages:
                assert f"#{node.code}" in sms.item(lang, node.name).split()[-3:]


def test_hash_and_a_code_reach_the_item_through_the_webhooks(client):
    root = twiml(twilio_post(client, "/voice/step?node=money&lang=en&retry=0", {"Digits": "#"}))
    gather = root.find("Gather")
    assert gather.get("numDigits") == "2" and gather.find("Say").text == "Type the code."
    nxt = urlsplit(gather.get("action"))
    root = twiml(twilio_post(client, f"{nxt.path}?{nxt.query}", {"Digits": "41"}))
    assert "urgent medical aid" in root.find("Gather").find("Say").text.lower()
    assert parse_qs(urlsplit(root.find("Gather").get("action")).query)["node"] == ["amu"]


def test_respellings_apply_to_speech_only_and_to_whole_words(content):
    fr = content.languages["fr"]
    assert fr.pronounce.get("CPAS") == "C P A S"
    text = content.text("fr", "headline")
    assert "CPAS" in text and "C P A S" in content.speech("fr", text)
    assert content.speech("fr", "CPASSE et xCPAS") == "CPASSE et xCPAS"  # whole words only
    sms = load_sms_content(content)
    assert "C P A S" not in sms.item("fr", "cpas_what")


@pytest.mark.parametrize("lang", ["fr", "en", "ar", "uk", "prs", "ti"])
def test_every_voice_spells_the_cpas_instead_of_reading_it_as_a_word(content, lang):
    """An English voice reads "CPAS" as "see-pass", a French one as "kpa": each language that
    says CPAS respells it, letter by letter in its own script."""
    text = content.text(lang, "opt_cpas", digit="1")
    assert "CPAS" in text and "CPAS" not in content.speech(lang, text)


def test_values_of_a_callback_prompt_are_spoken_from_pieces(content):
    from hotline.engine.turns import say

    said = say(content, "en", "cb_done", ref="4 8 2, 9 1 3")
    assert said.text.startswith("Thank you.") and "4 8 2, 9 1 3" in said.text
    assert said.pieces == ("Thank you. Your request is registered. Your reference is",
                           "4", "8", "2", "9", "1", "3", ". Once more:".lstrip(". "),
                           "4", "8", "2", "9", "1", "3")
    later = say(content, "en", "cb_when_later", day="Monday", time="9:00")
    assert later.pieces == ("A mediator will call you back from", "Monday", "at", "9:00",
                            ", from a Belgian number.".lstrip(", "))
