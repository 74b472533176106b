"""Content validation: every broken file stops start-up naming the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from hotline.app import create_app
from hotline.cli import main
from hotline.content.ivr import ContentError, load_content
from tests.helpers import ROOT, edit


def problems(root: Path) -> list[str]:
    with pytest.raises(ContentError) as caught:
        load_content(root)
    return [str(p) for p in caught.value.problems]


def test_shipped_content_is_valid_and_complete():
    content = load_content(ROOT)
    assert list(content.languages) == ["fr", "nl", "en", "ar", "uk", "prs", "ti", "ru",
                                      "tr", "es", "ro", "ps"]
    assert {c: lang.status for c, lang in content.languages.items()} == dict.fromkeys(
        content.languages, "draft")  # nobody has reviewed a translation yet
    required = content.required_prompts()
    for lang in content.languages.values():
        assert required <= set(lang.prompts), lang.code
    for node in content.nodes.values():
        if node.type == "info":
            assert node.sources and node.checked_on, node.name


def test_unverified_amounts_carry_their_date_in_every_language():
    content = load_content(ROOT)
    assert content.nodes["ris_amounts"].unverified
    for lang in content.languages:
        text = content.text(lang, "info_ris_amounts")
        assert "2025" in text and "876" in text and "1314" in text and "1776" in text, lang


def test_every_language_keeps_the_english_placeholders_and_facts():
    """Translations keep every {placeholder} of the English prompt, and its figures."""
    from hotline.content.files import placeholders

    content = load_content(ROOT)
    english = content.languages["en"].prompts
    for code, lang in content.languages.items():
        for key, text in english.items():
            assert placeholders(lang.prompts[key]) == placeholders(text), (code, key)
        for key, figure in (("info_cpas_appeal", "38"), ("info_cpas_decision", "30"),
                            ("info_asylum_after", "30"), ("info_cpas_how_details", "5")):
            assert figure in lang.prompts[key], (code, key, figure)


def test_missing_prompt_names_file_and_key(content_copy):
    edit(content_copy / "ivr_scripts/nl.yaml", lambda d: d["prompts"].pop("info_amu"))
    assert "ivr_scripts/nl.yaml: prompts.info_amu: missing" in problems(content_copy)


def test_digit_used_twice(content_copy):
    edit(content_copy / "ivr_scripts/menu.yaml",
         lambda d: d["nodes"]["money"]["options"][1].update(digit="1"))
    assert any("menu.yaml: nodes.money.options[1]: digit 1 is used twice" in p
               for p in problems(content_copy))


def test_option_leading_nowhere(content_copy):
    edit(content_copy / "ivr_scripts/menu.yaml",
         lambda d: d["nodes"]["cpas"]["options"][0].update(goto="cpas_wat"))
    assert any("nodes.cpas.options[0]: goto leads nowhere: 'cpas_wat'" in p
               for p in problems(content_copy))


def test_unknown_placeholder(content_copy):
    edit(content_copy / "ivr_scripts/fr.yaml",
         lambda d: d["prompts"].update(welcome="Bienvenue. Urgence: {emergency_numbr}."))
    assert "ivr_scripts/fr.yaml: prompts.welcome: unknown placeholder {emergency_numbr}" in (
        problems(content_copy))


def test_digit_placeholder_only_in_option_prompts(content_copy):
    edit(content_copy / "ivr_scripts/en.yaml",
         lambda d: d["prompts"].update(goodbye="Press {digit}."))
    assert "ivr_scripts/en.yaml: prompts.goodbye: unknown placeholder {digit}" in (
        problems(content_copy))


def test_option_prompt_must_say_its_digit(content_copy):
    edit(content_copy / "ivr_scripts/ar.yaml", lambda d: d["prompts"].update(opt_back="رجوع"))
    assert any("ar.yaml: prompts.opt_back: an option prompt must say its key" in p
               for p in problems(content_copy))


def test_malformed_yaml_names_the_line(content_copy):
    path = content_copy / "ivr_scripts/en.yaml"
    path.write_text(path.read_text() + "\n  bad: [unclosed\n")
    found = problems(content_copy)
    assert len(found) == 1 and found[0].startswith("ivr_scripts/en.yaml: not valid YAML: line")


def test_malformed_brace(content_copy):
    edit(content_copy / "ivr_scripts/en.yaml", lambda d: d["prompts"].update(invalid="Oops {"))
    assert any("prompts.invalid: malformed placeholder" in p for p in problems(content_copy))


def test_information_item_needs_sources_and_a_date(content_copy):
    def strip(d):
        d["nodes"]["amu"].pop("sources")
        d["nodes"]["amu"]["checked_on"] = "last week"

    edit(content_copy / "ivr_scripts/menu.yaml", strip)
    found = problems(content_copy)
    assert any("nodes.amu.sources: an information item needs at least one source" in p
               for p in found)
    assert any("nodes.amu.checked_on: needs the date" in p for p in found)


def test_missing_language_file(content_copy):
    (content_copy / "ivr_scripts/ar.yaml").unlink()
    assert "ivr_scripts/ar.yaml: file is missing" in problems(content_copy)


def test_bad_status(content_copy):
    edit(content_copy / "ivr_scripts/fr.yaml", lambda d: d.update(status="final"))
    assert "ivr_scripts/fr.yaml: status: must be draft or reviewed" in problems(content_copy)


def test_per_prompt_text_and_status(content_copy):
    """A prompt may be a mapping (text, status); its status is checked against the review ledger
    (tests/test_content_reviews.py), never taken on its word."""
    edit(content_copy / "ivr_scripts/en.yaml", lambda d: d["prompts"].update(
        invalid={"text": "Sorry, that key does not work here.", "status": "draft"}))
    content = load_content(content_copy)
    assert content.languages["en"].prompts["invalid"] == "Sorry, that key does not work here."
    assert content.languages["en"].prompt_status["invalid"] == "draft"


def test_broken_content_stops_app_start_up(content_copy):
    edit(content_copy / "ivr_scripts/nl.yaml", lambda d: d["prompts"].pop("goodbye"))
    with pytest.raises(ContentError, match=r"ivr_scripts/nl.yaml: prompts.goodbye: missing"):
        create_app({"CONTENT_ROOT": content_copy, "TWILIO_AUTH_TOKEN": "x"})


def test_check_command_reports_coverage(content_copy):
    result = CliRunner().invoke(main, ["check"], env={"HOTLINE_CONTENT_ROOT": str(content_copy)})
    assert result.exit_code == 0, result.output
    assert "content OK" in result.output
    assert "info_cpas_appeal" in result.output
    lines = [line for line in result.output.splitlines() if line.startswith("en English")]
    voice, reviewed, stale, draft = lines[0].split()[2:6]
    assert (reviewed, stale) == ("0", "0") and voice == draft  # nothing reviewed yet
    # no audio in the copy: the languages with a Twilio voice are voice-ready, Pashto never
    assert "voice-ready (offered on the voice line): fr, nl, en, ar, uk, ru, tr, es, ro" in \
        result.output
    assert "SMS only until their audio exists (`hotline audio build`, recordings): prs, ti, ps" \
        in result.output


def test_check_command_fails_on_broken_content(content_copy):
    edit(content_copy / "ivr_scripts/menu.yaml", lambda d: d.update(start="nowhere"))
    result = CliRunner().invoke(main, ["check"], env={"HOTLINE_CONTENT_ROOT": str(content_copy)})
    assert result.exit_code == 1
    assert "ivr_scripts/menu.yaml: start: names no node: 'nowhere'" in result.output
