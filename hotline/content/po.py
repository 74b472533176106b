"""Translators' files: a language's texts as gettext PO (what Weblate, Poedit and Crowdin read),
and a PO file's texts written back into the YAML.

Export: one entry per text of the catalog, its context `voice:<key>` or `sms:<key>`, the English
source as msgid, the current text as msgstr, and the catalog's notes as translator comments.
Import: fuzzy, obsolete and untranslated entries are left out; every other entry is checked
(a known context, no empty text, balanced braces, the source's `{placeholders}` kept, a voice
prompt within its word budget), then the changed texts are written into a copy of the content
and loaded with the real loaders (SMS segment budgets, labels, assembled menus, the caller-time
budget), and only then into the files, through ruamel.yaml so that their comments, order, quotes
and line folding stay as they were. A changed text loses its reviews (they are bound to the old
text) and a `status: reviewed` in its file becomes draft. A file with no changed text is not
written at all.
"""

from __future__ import annotations

import io
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polib
from ruamel.yaml.scalarstring import (
    DoubleQuotedScalarString,
    FoldedScalarString,
    LiteralScalarString,
    SingleQuotedScalarString,
)

from hotline.content.budget import ENFORCED, caller_times, words
from hotline.content.catalog import Entry, catalog, seconds, voice_word_budget
from hotline.content.files import ContentError, Problem, placeholders, round_trip_yaml
from hotline.content.ivr import Content, load_content
from hotline.content.reviews import FOLDERS, SMS, VOICE, locked, write_atomically
from hotline.content.sms import SmsContent, load_sms_content

FOLD_WIDTH = 100  # a changed folded text is wrapped to this many columns
SENTENCE_ENDS = frozenset(".?!።؟۔")


class ImportRefused(Exception):
    """A PO file that cannot be imported; `problems` names each entry and what is wrong."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("nothing imported:\n" + "\n".join(f"  {p}" for p in problems))


@dataclass
class ImportResult:
    """What an import did: the contexts it changed, and those it left out, by reason."""

    lang: str
    changed: list[str] = field(default_factory=list)
    unchanged: int = 0
    fuzzy: list[str] = field(default_factory=list)
    untranslated: list[str] = field(default_factory=list)
    source_changed: list[str] = field(default_factory=list)  # English changed since the export
    files: list[str] = field(default_factory=list)


def export_po(content: Content, sms: SmsContent, lang: str) -> polib.POFile:
    """`lang`'s texts as a PO catalog, English as the source."""
    po = polib.POFile(wrapwidth=78)
    po.metadata = {
        "Project-Id-Version": "hotline",
        "Language": lang,
        "MIME-Version": "1.0",
        "Content-Type": "text/plain; charset=UTF-8",
        "Content-Transfer-Encoding": "8bit",
        "X-Source-Language": "en",
    }
    po.header = (f"The hotline's texts in {content.languages[lang].name} ({lang}): voice "
                 "prompts and SMS.\nThe context says which (voice:<key>, sms:<key>); the "
                 "comments give each text's budget.\nImport with: hotline content import FILE.po")
    for entry in catalog(content, sms, lang):
        flags = ["python-brace-format"] if placeholders(entry.source) else []
        po.append(polib.POEntry(msgctxt=entry.context, msgid=entry.source,
                                msgstr=entry.text or "", comment="\n".join(entry.notes),
                                flags=flags))
    return po


def import_po(root: Path, po_file: Path | str, lang: str | None = None) -> ImportResult:
    """Write the texts of `po_file` into the content under `root`; raise ImportRefused naming
    every entry that cannot be imported (then nothing is written), ContentError when the content
    does not load as it is."""
    root = Path(root)
    try:
        po = polib.pofile(str(po_file))
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise ImportRefused([f"{po_file}: not a readable PO file ({exc})"]) from exc
    lang = lang or po.metadata.get("Language", "").strip()
    content = load_content(root)
    sms = load_sms_content(content)
    if lang not in content.languages:
        raise ImportRefused([f"{po_file}: language {lang!r} is not offered by the line "
                             f"({', '.join(content.languages)}); set the Language header"])
    entries = {e.context: e for e in catalog(content, sms, lang)}
    result = ImportResult(lang)
    problems: list[str] = []
    changes: dict[str, str] = {}
    seen: set[str] = set()
    for item in po:
        if item.obsolete:
            continue
        where = item.msgctxt or f"msgid {item.msgid[:40]!r}"
        if item.msgctxt in seen:
            problems.append(f"{where}: twice in the file")
            continue
        seen.add(item.msgctxt or "")
        if item.fuzzy:
            result.fuzzy.append(where)
            continue
        entry = entries.get(item.msgctxt or "")
        if entry is None:
            problems.append(f"{where}: no such text (the context must be voice:<key> or "
                            "sms:<key>, as exported)")
            continue
        if item.msgid != entry.source:
            result.source_changed.append(where)
        if item.msgstr == "" and entry.text is None:
            result.untranslated.append(where)
            continue
        text = _normalised(entry, item.msgstr)
        if text == entry.text:  # the loader took it already: nothing to check, nothing to write
            result.unchanged += 1
            continue
        problem = _problem(entry, text)
        if problem:
            problems.append(f"{where}: {problem}")
        else:
            changes[entry.context] = text
    if problems:
        raise ImportRefused(problems)
    if not changes:
        return result
    with tempfile.TemporaryDirectory(prefix="hotline-import-") as tmp, \
            locked(root / FOLDERS[VOICE]), locked(root / FOLDERS[SMS]):
        stage = Path(tmp)
        for folder in FOLDERS.values():
            shutil.copytree(root / folder, stage / folder)
        written = _apply(stage, lang, changes)
        _check_staged(stage, lang, content, changes)
        for name in written:
            write_atomically(root / name, (stage / name).read_text(encoding="utf-8"))
    result.changed = list(changes)
    result.files = written
    return result


def _normalised(entry: Entry, text: str) -> str:
    """`text` as the loader would hold it: a voice prompt's whitespace folded, an SMS's trimmed."""
    return " ".join(text.split()) if entry.channel == VOICE else text.strip()


def _problem(entry: Entry, text: str) -> str | None:
    """What keeps `text` out of `entry`, or None."""
    if not text:
        return "empty text (leave an entry untranslated in your tool, or mark it fuzzy)"
    try:
        names = placeholders(text)
    except ValueError as exc:
        return f"unbalanced braces ({exc}); write {{{{ and }}}} for a brace itself"
    missing = [n for n in dict.fromkeys(placeholders(entry.source)) if n not in names]
    if missing:
        shown = ", ".join("{" + n + "}" for n in missing)
        return f"{shown} missing: keep every placeholder of the English"
    unknown = [n for n in dict.fromkeys(names) if n not in placeholders(entry.source)]
    if unknown:
        return f"unknown placeholder {', '.join('{' + n + '}' for n in unknown)}"
    if entry.channel == VOICE:
        count, limit = words(text), voice_word_budget(entry.source)
        if count > limit:
            return (f"over the time budget: {count} words ({seconds(count)}); at most {limit} "
                    f"({seconds(limit)}), half again the English")
    return None


def _apply(stage: Path, lang: str, changes: dict[str, str]) -> list[str]:
    """Write `changes` (context -> text) into the staged language files; the files written."""
    yaml = round_trip_yaml()
    written = []
    for channel in (VOICE, SMS):
        mine = {c.split(":", 1)[1]: t for c, t in changes.items() if c.startswith(channel + ":")}
        if not mine:
            continue
        name = f"{FOLDERS[channel]}/{lang}.yaml"
        data = yaml.load((stage / name).read_text(encoding="utf-8"))
        for key, text in mine.items():
            section, name_in = ("prompts", key) if channel == VOICE else key.split(".", 1)
            table = data[section]
            old = table.get(name_in)
            indent = 4  # a prompt's folded lines sit under `  key: >-`
            if isinstance(old, dict):  # {text: ..., status: ...}
                old["text"] = _styled(text, old.get("text"), indent + 2)
                if old.get("status") == "reviewed":
                    old["status"] = "draft"
            else:
                table[name_in] = _styled(text, old, indent)
        if data.get("status") == "reviewed":
            data["status"] = "draft"
        out = io.StringIO()
        yaml.dump(data, out)
        (stage / name).write_text(out.getvalue(), encoding="utf-8")
        written.append(name)
    return written


def _styled(text: str, old: Any, indent: int) -> Any:
    """`text` in the style of the value it replaces: folded (wrapped anew), literal, quoted."""
    if isinstance(old, FoldedScalarString):
        new = FoldedScalarString(text)
        new.fold_pos = _folds(text, FOLD_WIDTH - indent)
        return new
    for style in (LiteralScalarString, DoubleQuotedScalarString, SingleQuotedScalarString):
        if isinstance(old, style):
            return style(text)
    return DoubleQuotedScalarString(text) if old is None else text


def _folds(text: str, width: int) -> list[int]:
    """Positions of the spaces where a folded scalar breaks its lines: after every sentence (so a
    changed sentence is a changed line in a diff), and before a line grows past `width`."""
    folds, start, last_space = [], 0, -1
    for i, char in enumerate(text):
        if char != " ":
            continue
        if i - start > width and last_space > start:
            folds.append(last_space)
            start = last_space + 1
        if i > start and text[i - 1] in SENTENCE_ENDS:
            folds.append(i)
            start = i + 1
        last_space = i
    if len(text) - start > width and last_space > start:
        folds.append(last_space)
    return folds


def _check_staged(stage: Path, lang: str, before: Content, changes: dict[str, str]) -> None:
    """Load the staged content with the real loaders; raise ImportRefused naming the entries
    whose texts break it, or that push the caller-time budget over."""
    try:
        content = load_content(stage)
        load_sms_content(content)
    except ContentError as exc:
        raise ImportRefused([_entry_problem(p, lang) for p in exc.problems]) from exc
    if lang in ENFORCED:
        over = caller_times(content, lang).over_budget()
        if over and not caller_times(before, lang).over_budget():
            voice = [c for c in changes if c.startswith(VOICE + ":")]
            raise ImportRefused([f"{', '.join(voice)}: the menus go over the caller-time "
                                 f"budget: {problem}" for problem in over])


def _entry_problem(problem: Problem, lang: str) -> str:
    """A loader's problem named by the PO entry it concerns, when it concerns one."""
    key = problem.key.removesuffix(".status")
    if problem.file == f"{FOLDERS[VOICE]}/{lang}.yaml" and key.startswith("prompts."):
        return f"{VOICE}:{key.removeprefix('prompts.')}: {problem.message}"
    if problem.file == f"{FOLDERS[SMS]}/{lang}.yaml" and key.startswith(("texts.", "labels.")):
        name = key.split(".", 1)[1]
        if name.startswith("menu:"):
            return (f"the SMS menu {name.removeprefix('menu:')} (its labels and menu_header/"
                    f"footer): {problem.message}")
        return f"{SMS}:{key}: {problem.message}"
    return str(problem)
