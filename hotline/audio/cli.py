"""`hotline audio`: build the audio cache, and see what each language's audio lacks.

The audio modules (numpy, soxr, soundfile) are imported inside the commands, so registering this
group costs the other `hotline` commands nothing.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

import click

from hotline import settings as hotline_settings
from hotline.audio.library import RECORDINGS, SIDECAR
from hotline.content.ivr import Content, ContentError, load_content
from hotline.settings import Settings

if TYPE_CHECKING:
    from hotline.audio.config import AudioConfig


@click.group()
def audio() -> None:
    """Pre-rendered audio: render every prompt, report what each language lacks."""


def _load(langs: tuple[str, ...]) -> tuple[Settings, Content, AudioConfig]:
    from hotline.audio.config import load_audio_config

    settings = hotline_settings.from_environment_or_exit()
    try:
        content = load_content(settings.content_root)
        audio_config = load_audio_config(settings.content_root)
    except ContentError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    unknown = sorted(set(langs) - set(content.languages))
    if unknown:
        click.echo(f"unknown language: {', '.join(unknown)} (the line offers "
                   f"{', '.join(content.languages)})", err=True)
        sys.exit(2)
    return settings, content, audio_config


@audio.command()
@click.option("--lang", "langs", multiple=True, help="Only this language (repeatable).")
@click.option("--prune", is_flag=True, help="Also delete files and entries nothing refers to.")
@click.option("--jobs", type=click.IntRange(1, 64), default=lambda: os.cpu_count() or 1,
              show_default="the number of CPUs", help="Prompts rendered at once.")
@click.option("--rq", "use_rq", is_flag=True, help="Render on RQ workers (REDIS_URL).")
@click.option("--offline", is_flag=True, help="Offline engines only (espeak-ng), no gTTS.")
def build(langs: tuple[str, ...], prune: bool, jobs: int, use_rq: bool, offline: bool) -> None:
    """Render every prompt that has no up-to-date audio into the audio cache."""
    from hotline.audio.build import build as build_cache

    settings, content, audio_config = _load(langs)
    root = settings.audio_root
    executor = None
    if use_rq:
        import redis

        from workers.audio import rq_executor

        if not settings.redis_url:
            click.echo("--rq needs REDIS_URL (the Redis the workers use)", err=True)
            sys.exit(2)
        executor = rq_executor(redis.Redis.from_url(settings.redis_url), root, audio_config)
    try:
        report = build_cache(content, root, audio_config, langs=langs or None, offline=offline,
                             jobs=jobs, prune=prune, progress=True, executor=executor,
                             times=settings.opening_times())
    except RuntimeError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    for line in report.lines():
        click.echo(line)
    sys.exit(1 if report.failed else 0)


@audio.command()
@click.option("--lang", "langs", multiple=True, help="Only this language (repeatable).")
def status(langs: tuple[str, ...]) -> None:
    """A table: each language's prompts, recorded, rendered, stale, missing, engines, minutes."""
    from hotline.audio.config import make_engines
    from hotline.audio.status import language_status, status_lines

    settings, content, audio_config = _load(langs)
    root = settings.audio_root
    rows = language_status(content, root, audio_config, make_engines(audio_config, root),
                           settings.opening_times())
    for line in status_lines([r for r in rows if not langs or r.lang in langs]):
        click.echo(line)


@audio.command()
@click.option("--lang", required=True, help="The language to record.")
@click.option("--sidecars", is_flag=True,
              help="Also write recordings/<lang>/<key>.txt for every prompt that has none.")
def script(lang: str, sidecars: bool) -> None:
    """Every prompt of a language with its number and exact text: the script for a person to
    record (the number is what a volunteer types to record it by phone)."""
    from hotline.audio.takes import numbered

    settings, content, _ = _load((lang,))
    folder = settings.audio_root / RECORDINGS / lang
    written = 0
    for number, prompt in numbered(content, lang):
        click.echo(f"{number:>3}  {prompt.keys[0]}: {prompt.text}")
        sidecar = folder / f"{prompt.keys[0]}{SIDECAR}"
        if sidecars and not sidecar.exists():
            folder.mkdir(parents=True, exist_ok=True)
            sidecar.write_text(prompt.text + "\n", encoding="utf-8")
            written += 1
    if sidecars:
        click.echo(f"\nwrote {written} sidecars in {folder}: record each text as <key>.wav "
                   f"(or .flac, .ogg, .mp3) beside it, then run `hotline audio build`")
