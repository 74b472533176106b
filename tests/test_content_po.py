"""Translators' PO files: export, import back into the YAML (comments, order and untouched
bytes kept), refusals that name the entry, and Poedit-style re-saved files."""

from __future__ import annotations

import difflib
import hashlib
from pathlib import Path

import polib
import pytest
import yaml
from click.testing import CliRunner

from hotline.cli import main
from hotline.content.catalog import record_review, voice_word_budget
from hotline.content.ivr import load_content
from hotline.content.po import ImportRefused, export_po, import_po
from hotline.content.sms import load_sms_content
from tests.helpers import ROOT, edit

LANGS = ["fr", "nl", "en", "ar", "uk", "prs", "ti"]


def tree(root: Path) -> dict[str, str]:
    """Every file of the content folders, by path, as a hash of its bytes."""
    files = [p for folder in ("ivr_scripts", "sms_templates")
             for p in sorted((root / folder).rglob("*")) if p.is_file()]
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def export(root: Path, lang: str, path: Path) -> polib.POFile:
    result = CliRunner().invoke(main, ["content", "export", "--lang", lang, "--format", "po",
                                       "-o", str(path)], env={"HOTLINE_CONTENT_ROOT": str(root)})
    assert result.exit_code == 0, result.output
    return polib.pofile(str(path))


def change(po_path: Path, updates: dict[str, str], fuzzy: tuple[str, ...] = ()) -> Path:
    po = polib.pofile(str(po_path))
    for entry in po:
        if entry.msgctxt in updates:
            entry.msgstr = updates[entry.msgctxt]
        if entry.msgctxt in fuzzy:
            entry.flags.append("fuzzy")
    out = po_path.with_name("changed.po")
    po.save(str(out))
    return out


@pytest.fixture(scope="module")
def loaded():
    content = load_content(ROOT)
    return content, load_sms_content(content)


def test_export_names_each_text_with_its_source_and_budget(loaded):
    content, sms = loaded
    po = export_po(content, sms, "ti")
    by_context = {e.msgctxt: e for e in po}
    assert po.metadata["Language"] == "ti"
    voice = by_context["voice:info_cpas_what"]
    assert voice.msgid == content.languages["en"].prompts["info_cpas_what"]
    assert voice.msgstr == content.languages["ti"].prompts["info_cpas_what"]
    assert "Voice prompt" in voice.comment and "2.5 words a second" in voice.comment
    assert f"at most {voice_word_budget(voice.msgid)} words" in voice.comment
    assert "legal review" in voice.comment
    text = by_context["sms:texts.cpas_what"]
    assert text.msgid == sms.languages["en"].texts["cpas_what"]
    assert text.msgstr == sms.languages["ti"].texts["cpas_what"]
    assert "SMS text" in text.comment and "at most 3 segments" in text.comment
    assert "#11" in text.comment  # the item code sent after it counts
    label = by_context["sms:labels.cpas_what"]
    assert label.msgstr == sms.languages["ti"].labels["cpas_what"]
    assert "28 characters" in label.comment
    option = by_context["voice:opt_cpas"]
    assert "python-brace-format" in option.flags and "{digit}" in option.comment
    # every text once, voice and SMS apart
    assert len(by_context) == len(po) == len(content.required_prompts()) + len(
        sms.languages["en"].keyed_texts())


def test_export_gives_the_fact_sheet_section_when_the_menu_records_one(content_copy):
    edit(content_copy / "ivr_scripts/menu.yaml",
         lambda d: d["nodes"]["amu"].update(facts="§3b"))
    content = load_content(content_copy)
    po = export_po(content, load_sms_content(content), "fr")
    by_context = {e.msgctxt: e for e in po}
    assert "Fact sheet: §3b." in by_context["voice:info_amu"].comment
    assert "Fact sheet: §3b." in by_context["sms:texts.amu"].comment
    assert "Fact sheet" not in by_context["voice:info_cpas_what"].comment


@pytest.mark.parametrize("lang", LANGS)
def test_export_then_import_changes_no_byte(content_copy, tmp_path, lang):
    before = tree(content_copy)
    po_path = tmp_path / f"{lang}.po"
    export(content_copy, lang, po_path)
    result = CliRunner().invoke(main, ["content", "import", str(po_path)],
                                env={"HOTLINE_CONTENT_ROOT": str(content_copy)})
    assert result.exit_code == 0, result.output
    assert "0 texts changed" in result.output
    assert tree(content_copy) == before


def test_a_poedit_style_resave_round_trips(content_copy, tmp_path):
    """Another line width, a changed header, a fuzzy entry with a new text: nothing changes."""
    before = tree(content_copy)
    po = export(content_copy, "uk", tmp_path / "uk.po")
    po.wrapwidth = 40
    po.metadata.update({"Last-Translator": "Olena <olena@example.org>",
                        "PO-Revision-Date": "2026-11-30 14:00+0100", "X-Generator": "Poedit 3.4",
                        "Language-Team": "Ukrainian"})
    fuzzy = next(e for e in po if e.msgctxt == "voice:welcome")
    fuzzy.msgstr = "Щось інше."
    fuzzy.flags.append("fuzzy")
    po.save(str(tmp_path / "resaved.po"))
    text = (tmp_path / "resaved.po").read_text()
    assert text != (tmp_path / "uk.po").read_text()
    result = import_po(content_copy, tmp_path / "resaved.po")
    assert result.changed == [] and result.fuzzy == ["voice:welcome"]
    assert tree(content_copy) == before


def test_import_writes_changed_texts_keeping_everything_else(content_copy, tmp_path):
    record_review(content_copy, "fr", "voice", "welcome", "language", "Marie")
    record_review(content_copy, "fr", "sms", "labels.amu", "language", "Marie")
    path = content_copy / "ivr_scripts/fr.yaml"
    # a file that says reviewed becomes draft when a text changes
    path.write_text(path.read_text().replace("\nstatus: draft\n", "\nstatus: reviewed\n"))
    old_voice, old_sms = path.read_text(), (content_copy / "sms_templates/fr.yaml").read_text()
    content = load_content(content_copy)
    sms = load_sms_content(content)
    welcome = content.languages["fr"].prompts["welcome"]
    item = content.languages["fr"].prompts["info_cpas_what"]
    label = sms.languages["fr"].labels["amu"]
    po_path = tmp_path / "fr.po"
    export(content_copy, "fr", po_path)
    new_item = item.replace(".", " !", 1)
    changed = change(po_path, {"voice:welcome": welcome.replace(".", " !", 1),
                               "voice:info_cpas_what": new_item,
                               "sms:labels.amu": label[:-1]})
    result = import_po(content_copy, changed)
    assert sorted(result.changed) == ["sms:labels.amu", "voice:info_cpas_what", "voice:welcome"]

    new_voice = path.read_text()
    diff = [line for line in difflib.unified_diff(old_voice.splitlines(), new_voice.splitlines(),
                                                  lineterm="", n=0)
            if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    removed = [line[1:] for line in diff if line.startswith("-")]
    added = [line[1:] for line in diff if line.startswith("+")]
    # only the status line and the two prompts' own lines changed; every comment stayed
    assert "status: reviewed" in removed and "status: draft" in added
    assert all(line.lstrip().startswith(("welcome:", "status:")) or line.startswith("    ")
               or line.strip() == "info_cpas_what: >-" for line in removed + added), diff
    assert [line for line in old_voice.splitlines() if line.lstrip().startswith("#")] == [
        line for line in new_voice.splitlines() if line.lstrip().startswith("#")]
    assert list(yaml.safe_load(old_voice)["prompts"]) == list(yaml.safe_load(new_voice)["prompts"])
    sms_diff = [line for line in difflib.unified_diff(
        old_sms.splitlines(), (content_copy / "sms_templates/fr.yaml").read_text().splitlines(),
        lineterm="", n=0) if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    assert [line.split(":")[0] for line in sms_diff] == ["-  amu", "+  amu"]

    # the changed folded prompt: a sentence a line, none past 100 columns
    lines = new_voice.splitlines()
    start = lines.index("  info_cpas_what: >-") + 1
    body = lines[start:start + next(i for i, line in enumerate(lines[start:])
                                    if not line.startswith("    "))]
    assert all(len(line) <= 100 for line in body)
    assert " ".join(line.strip() for line in body) == new_item
    assert all(line.rstrip()[-1] in ".?!" for line in body[:-1] if len(line) < 80)
    content = load_content(content_copy)
    lang = content.languages["fr"]
    assert lang.prompts["info_cpas_what"] == new_item
    assert lang.prompt_status["welcome"] == "stale"  # its review was of the old text
    assert lang.prompt_status["info_cpas_what"] == "draft"
    assert load_sms_content(content).languages["fr"].reviews["labels.amu"].state == "stale"
    # and the import of the same file again changes nothing
    again = tree(content_copy)
    assert import_po(content_copy, changed).changed == []
    assert tree(content_copy) == again


def _first(po_path: Path, context: str) -> str:
    return next(e for e in polib.pofile(str(po_path)) if e.msgctxt == context).msgstr


REFUSALS = [
    # (context, how the translator's text is made from the current one, what the refusal says)
    ("voice:opt_cpas", lambda t: t.replace("{digit}", "1"), "{digit} missing"),
    ("voice:welcome", lambda t: t.replace("{emergency_number}", "{emergency_number"),
     "unbalanced braces"),
    ("sms:texts.cb_created", lambda t: t.replace("{ref}", "{reference}"), "{ref} missing"),
    ("voice:goodbye", lambda t: "   ", "empty text"),
    ("voice:goodbye", lambda t: "", "empty text"),
    ("voice:info_asylum_work", lambda t: " ".join([t] * 2), "over the time budget"),
    ("sms:texts.cpas_appeal", lambda t: t + " " + t, "segments"),
    ("sms:labels.amu", lambda t: t + " et encore bien plus que cela", "characters; at most 28"),
    ("sms:texts.stop_confirm", lambda t: t + " Reçu.", "switches the SMS to UCS-2"),
    ("voice:opt_cpass", lambda t: "CPAS : {digit}.", "no such text"),
]


@pytest.fixture(scope="module")
def french_po(loaded, tmp_path_factory) -> Path:
    """The shipped French texts as a PO file (the content copies start as the shipped one)."""
    path = tmp_path_factory.mktemp("po") / "fr.po"
    export_po(*loaded, "fr").save(str(path))
    return path


@pytest.mark.parametrize(("context", "make", "message"), REFUSALS)
def test_import_refuses_a_broken_entry_naming_it(content_copy, tmp_path, french_po, context,
                                                  make, message):
    po_path = tmp_path / "fr.po"
    po_path.write_bytes(french_po.read_bytes())
    po = polib.pofile(str(po_path))
    if context == "voice:opt_cpass":
        po.append(polib.POEntry(msgctxt=context, msgid="CPAS: {digit}.", msgstr="x"))
        po.save(str(po_path))
        current = ""
    else:
        current = _first(po_path, context)
    before = tree(content_copy)
    changed = change(po_path, {context: make(current)})
    with pytest.raises(ImportRefused) as caught:
        import_po(content_copy, changed)
    assert any(p.startswith(f"{context}:") and message in p for p in caught.value.problems), (
        caught.value.problems)
    assert tree(content_copy) == before  # nothing written


def test_import_cli_reports_a_refusal(content_copy, tmp_path):
    po_path = tmp_path / "nl.po"
    export(content_copy, "nl", po_path)
    changed = change(po_path, {"voice:opt_back": "Terug."})
    result = CliRunner().invoke(main, ["content", "import", str(changed)],
                                env={"HOTLINE_CONTENT_ROOT": str(content_copy)})
    assert result.exit_code == 1
    assert "voice:opt_back: {digit} missing" in result.output


def test_import_needs_the_language_and_reports_a_changed_english(content_copy, tmp_path,
                                                                 french_po):
    po = polib.pofile(str(french_po))
    del po.metadata["Language"]
    po.save(str(tmp_path / "nolang.po"))
    with pytest.raises(ImportRefused, match="language '' is not offered"):
        import_po(content_copy, tmp_path / "nolang.po")
    before = tree(content_copy)
    entry = next(e for e in po if e.msgctxt == "voice:welcome")
    entry.msgid = "An older English text."
    po.save(str(tmp_path / "old.po"))
    result = import_po(content_copy, tmp_path / "old.po", lang="fr")
    assert result.source_changed == ["voice:welcome"] and result.changed == []
    assert tree(content_copy) == before
    po.append(polib.POEntry(msgctxt="voice:welcome", msgid=entry.msgid, msgstr="Autre."))
    po.save(str(tmp_path / "twice.po"))
    with pytest.raises(ImportRefused, match="voice:welcome: twice in the file"):
        import_po(content_copy, tmp_path / "twice.po", lang="fr")
