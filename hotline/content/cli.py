"""`hotline content`: record reviews, and hand texts to translators and take them back (PO files).

The work is done in hotline.content (catalog, reviews, po); these commands only parse and print.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click

from hotline import settings as hotline_settings
from hotline.content.files import ContentError
from hotline.content.reviews import CHANNELS, KINDS, VOICE, ReviewError


@click.group()
def content() -> None:
    """The texts' lifecycle: reviews bound to the exact text, translators' PO files."""


def _root() -> Path:
    return Path(hotline_settings.from_environment_or_exit().content_root)


def _fail(exc: Exception, code: int = 1) -> None:
    click.echo(str(exc), err=True)
    sys.exit(code)


@content.command()
@click.option("--lang", required=True, help="Language code, e.g. fr.")
@click.option("--key", required=True,
              help="Voice: the prompt key (info_cpas_what). SMS: texts.<name> or labels.<name> "
                   "(a name alone means its text).")
@click.option("--channel", type=click.Choice(CHANNELS), default=VOICE, show_default=True)
@click.option("--sms", "is_sms", is_flag=True, help="Same as --channel sms.")
@click.option("--kind", type=click.Choice(KINDS), required=True,
              help="language: a native speaker read it; legal: the facts were checked.")
@click.option("--by", required=True, help="The reviewer's name.")
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="The day of the review (default: today).")
def review(lang: str, key: str, channel: str, is_sms: bool, kind: str, by: str,
           day: dt.datetime | None) -> None:
    """Record a review of the current text of a prompt or an SMS text."""
    from hotline.content.catalog import record_review

    try:
        done, state = record_review(_root(), lang, "sms" if is_sms else channel, key, kind, by,
                                    day.date() if day else None)
    except ReviewError as exc:
        _fail(exc, 2)
        return
    except ContentError as exc:
        _fail(exc)
        return
    missing = [k for k in state.needs if k not in state.current]
    more = f" (still needs: {', '.join(missing)})" if missing else ""
    click.echo(f"{lang} {done.key}: {done.kind} review by {done.by} on {done.date} recorded "
               f"for text {done.sha256[:12]}; now {state.state}{more}")


@content.command()
@click.option("--lang", required=True, help="Language code, e.g. ti.")
@click.option("--format", "fmt", type=click.Choice(["po"]), default="po", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="File to write (default: standard output).")
def export(lang: str, fmt: str, output: Path | None) -> None:
    """Write a language's voice prompts and SMS texts for translators (gettext PO)."""
    from hotline.content.ivr import load_content
    from hotline.content.po import export_po
    from hotline.content.sms import load_sms_content

    try:
        voice = load_content(_root())
        po = export_po(voice, load_sms_content(voice), lang)
    except ContentError as exc:
        _fail(exc)
        return
    except ReviewError as exc:
        _fail(exc, 2)
        return
    if output:
        po.save(str(output))
        click.echo(f"{len(po)} texts of {lang} in {output}", err=True)
    else:
        click.echo(str(po), nl=False)


@content.command("import")
@click.argument("po_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--lang", help="Language code (default: the PO file's Language header).")
def import_command(po_file: Path, lang: str | None) -> None:
    """Write a translator's PO file back into the content; changed texts become drafts."""
    from hotline.content.po import ImportRefused, import_po

    try:
        result = import_po(_root(), po_file, lang)
    except (ImportRefused, ContentError) as exc:
        _fail(exc)
        return
    for name, skipped in (("fuzzy, not imported", result.fuzzy),
                          ("untranslated", result.untranslated),
                          ("English changed since the export: check", result.source_changed)):
        if skipped:
            click.echo(f"{name}: {', '.join(skipped)}")
    click.echo(f"{result.lang}: {len(result.changed)} texts changed (now draft), "
               f"{result.unchanged} unchanged" +
               (f"; written: {', '.join(result.files)}" if result.files else ""))
    for context in result.changed:
        click.echo(f"  changed {context}")
