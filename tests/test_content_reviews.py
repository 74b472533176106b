"""Reviews bound to the exact text: the ledger, the derived status, `hotline content review` and
what `hotline check` reports."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from hotline.cli import main
from hotline.content.catalog import record_review
from hotline.content.ivr import ContentError, load_content
from hotline.content.reviews import (
    Review,
    ReviewError,
    counts,
    ledger_path,
    review_states,
    text_hash,
)
from hotline.content.sms import load_sms_content
from tests.helpers import edit

DAY = dt.date(2026, 11, 30)
TEXT, OTHER = "Go to the CPAS.", "Go to the CPAS today."


def _review(kind: str, text: str, key: str = "k") -> Review:
    return Review(key, kind, "A. Reviewer", DAY, text_hash(text))


# (reviews of key "k", is "k" a fact text, its state now)
STATE_CASES = [
    ([], False, "draft"),
    ([_review("language", TEXT)], False, "reviewed"),
    ([_review("language", OTHER)], False, "stale"),
    ([_review("language", OTHER), _review("language", TEXT)], False, "reviewed"),
    ([_review("language", TEXT), _review("language", OTHER)], False, "stale"),  # newest counts
    ([_review("language", TEXT)], True, "draft"),  # facts need a legal review too
    ([_review("language", TEXT), _review("legal", TEXT)], True, "reviewed"),
    ([_review("language", TEXT), _review("legal", OTHER)], True, "stale"),
    ([_review("legal", TEXT)], False, "draft"),  # a legal review does not replace a language one
    ([_review("language", TEXT, key="other")], False, "draft"),
]


@pytest.mark.parametrize(("reviews", "fact", "state"), STATE_CASES)
def test_a_text_is_reviewed_only_while_its_text_is_the_one_reviewed(reviews, fact, state):
    states = review_states({"k": TEXT}, reviews, facts={"k"} if fact else set())
    assert states["k"].state == state


def _check(root: Path) -> str:
    result = CliRunner().invoke(main, ["check"], env={"HOTLINE_CONTENT_ROOT": str(root),
                                                      "HOTLINE_AUDIO_ROOT": str(root / "audio")})
    assert result.exit_code == 0, result.output
    return result.output


def _row(output: str, lang: str) -> list[str]:
    """The numbers of a language's row in the review table: voice total, reviewed, stale, draft,
    then the same for SMS."""
    line = next(line for line in output.splitlines() if line.startswith(f"{lang} "))
    return line.split()[2:10]


def _review_cli(root: Path, *args: str) -> str:
    result = CliRunner().invoke(main, ["content", "review", *args],
                                env={"HOTLINE_CONTENT_ROOT": str(root)})
    assert result.exit_code == 0, result.output
    return result.output


def _counts(root: Path, lang: str) -> list[str]:
    """The same numbers as `hotline check`'s row, from the loaders."""
    content = load_content(root)
    required = content.required_prompts()
    voice = counts({k: v for k, v in content.languages[lang].reviews.items() if k in required})
    texts = counts(load_sms_content(content).languages[lang].reviews)
    return [str(n) for found in (voice, texts)
            for n in (sum(found.values()), found["reviewed"], found["stale"], found["draft"])]


def test_a_changed_text_makes_its_review_stale_in_check(content_copy):
    row = _counts(content_copy, "nl")
    voice, texts = row[0], row[4]
    assert row == [voice, "0", "0", voice, texts, "0", "0", texts]

    out = _review_cli(content_copy, "--lang", "nl", "--key", "invalid", "--kind", "language",
                      "--by", "No")
    assert "now reviewed" in out
    _review_cli(content_copy, "--lang", "nl", "--sms", "--key", "labels.amu", "--kind",
                "language", "--by", "Ines")
    _review_cli(content_copy, "--lang", "nl", "--sms", "--key", "amu", "--kind", "language",
                "--by", "Ines")  # a name alone: the text
    out = _review_cli(content_copy, "--lang", "nl", "--sms", "--key", "amu", "--kind", "legal",
                      "--by", "Jurist")
    assert "now reviewed" in out
    out = _review_cli(content_copy, "--lang", "fr", "--key", "info_cpas_what", "--kind",
                      "language", "--by", "Marie")
    assert "now draft (still needs: legal)" in out
    left = str(int(voice) - 1)
    assert _counts(content_copy, "nl") == [voice, "1", "0", left, texts, "2", "0",
                                           str(int(texts) - 2)]
    ledger = yaml.safe_load(ledger_path(content_copy, "voice", "nl").read_text())
    assert ledger["reviews"][0]["by"] == "No"  # a name, never YAML's false

    # the texts change (an editor, a translator's file): their reviews no longer count
    edit(content_copy / "ivr_scripts/nl.yaml",
         lambda d: d["prompts"].update(invalid=d["prompts"]["invalid"] + " Sorry."))
    edit(content_copy / "sms_templates/nl.yaml",
         lambda d: d["labels"].update(amu=d["labels"]["amu"][:-1]))
    output = _check(content_copy)
    assert _row(output, "nl") == [voice, "0", "1", left, texts, "1", "1", str(int(texts) - 2)]
    marks = {line.split()[0]: line.split()[1:] for line in output.splitlines()
             if line.startswith(("invalid ", "info_cpas_what "))}
    assert marks["invalid"][:3] == ["d", "s", "d"]  # fr, nl (stale), en
    assert marks["info_cpas_what"][:2] == ["l", "d"]  # fr: language reviewed, awaiting legal
    content = load_content(content_copy)
    assert content.languages["nl"].prompt_status["invalid"] == "stale"
    assert load_sms_content(content).languages["nl"].reviews["labels.amu"].state == "stale"


def test_whitespace_in_the_file_is_not_a_change_of_text(content_copy):
    record_review(content_copy, "en", "voice", "info_amu", "language", "A", DAY)
    record_review(content_copy, "en", "voice", "info_amu", "legal", "B", DAY)
    assert load_content(content_copy).languages["en"].prompt_status["info_amu"] == "reviewed"
    edit(content_copy / "ivr_scripts/en.yaml", lambda d: d["prompts"].update(
        info_amu=d["prompts"]["info_amu"].replace(" ", "\n  ", 3)))  # refolded, same words
    assert load_content(content_copy).languages["en"].prompt_status["info_amu"] == "reviewed"


def test_a_fact_text_needs_a_legal_review_too(content_copy):
    _, state = record_review(content_copy, "fr", "voice", "info_cpas_what", "language", "A")
    assert (state.state, state.needs, state.current) == (
        "draft", ("language", "legal"), ("language",))
    _, state = record_review(content_copy, "fr", "voice", "info_cpas_what", "legal", "B")
    assert state.state == "reviewed"
    assert load_content(content_copy).languages["fr"].prompt_status["info_cpas_what"] == (
        "reviewed")


def test_status_in_a_file_is_checked_against_the_ledger(content_copy):
    edit(content_copy / "ivr_scripts/en.yaml", lambda d: d["prompts"].update(
        invalid={"text": "Sorry, that key does not work here.", "status": "reviewed"}))
    edit(content_copy / "sms_templates/en.yaml", lambda d: d.update(status="reviewed"))
    content = load_content(content_copy)
    assert content.languages["en"].prompt_status["invalid"] == "draft"
    assert "ivr_scripts/en.yaml: prompts.invalid: says reviewed, but the review ledger has it " \
        "draft (the ledger counts)" in content.warnings
    sms = load_sms_content(content)
    assert sms.languages["en"].status == "draft"
    assert any(w.startswith("sms_templates/en.yaml: status: says reviewed") for w in sms.warnings)
    record_review(content_copy, "en", "voice", "invalid", "language", "A")
    content = load_content(content_copy)
    assert content.languages["en"].prompt_status["invalid"] == "reviewed"
    assert not [w for w in content.warnings if "prompts.invalid" in w]


def test_recording_a_review_keeps_the_ledgers_comments(content_copy):
    record_review(content_copy, "ar", "voice", "welcome", "language", "A", DAY)
    path = ledger_path(content_copy, "voice", "ar")
    path.write_text(path.read_text().replace("reviews:\n", "# kept by hand\nreviews:\n"))
    record_review(content_copy, "ar", "voice", "welcome_back", "language", "B", DAY)
    text = path.read_text()
    assert "# kept by hand\n" in text and text.startswith("# Reviews of ivr_scripts/ar.yaml")
    assert [r["key"] for r in yaml.safe_load(text)["reviews"]] == ["welcome", "welcome_back"]


@pytest.mark.parametrize(("entry", "message"), [
    ({"key": "welcome", "kind": "grammar", "by": "A", "date": DAY, "sha256": "0" * 64},
     "reviews[0]: kind must be language or legal, not 'grammar'"),
    ({"key": "welcome", "kind": "language", "by": "A", "sha256": "0" * 64},
     "reviews[0]: needs the day of the review"),
    ({"key": "welcome", "kind": "language", "by": "A", "date": DAY, "sha256": "abc"},
     "reviews[0]: needs the sha256 of the text reviewed"),
    ({"key": "welcome", "kind": "language", "by": " ", "date": DAY, "sha256": "0" * 64},
     "reviews[0]: needs the reviewer's name"),
])
def test_a_broken_ledger_names_the_file_and_the_entry(content_copy, entry, message):
    path = ledger_path(content_copy, "voice", "uk")
    path.parent.mkdir()
    path.write_text(yaml.safe_dump({"language": "uk", "reviews": [entry]}))
    with pytest.raises(ContentError) as caught:
        load_content(content_copy)
    found = [str(p) for p in caught.value.problems]
    assert len(found) == 1 and found[0].startswith(f"ivr_scripts/reviews/uk.yaml: {message}")


@pytest.mark.parametrize(("args", "message"), [
    (["--lang", "xx", "--key", "welcome"], "unknown language 'xx'"),
    (["--lang", "fr", "--key", "wellcome"], "fr: no voice text 'wellcome'"),
    (["--lang", "fr", "--sms", "--key", "welcome"], "fr: no sms text 'welcome'"),
])
def test_review_of_an_unknown_text_is_refused(content_copy, args, message):
    result = CliRunner().invoke(main, ["content", "review", *args, "--kind", "language",
                                       "--by", "A"],
                                env={"HOTLINE_CONTENT_ROOT": str(content_copy)})
    assert result.exit_code == 2 and message in result.output
    assert not (content_copy / "ivr_scripts/reviews").exists()


def test_a_review_needs_a_name():
    with pytest.raises(ReviewError, match="reviewer's name"):
        record_review(Path("."), "fr", "voice", "welcome", "language", "  ")
