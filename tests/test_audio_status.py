"""`hotline audio build` and `hotline audio status` as a CSO runs them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from hotline.audio.build import read_manifest
from hotline.audio.cli import audio
from hotline.content.budget import caller_times
from hotline.content.ivr import load_content
from tests.test_audio_support import offline_config, set_languages


def run(root: Path, *args: str):
    env = {"HOTLINE_CONTENT_ROOT": str(root), "HOTLINE_AUDIO_ROOT": str(root / "audio_cache")}
    return CliRunner().invoke(audio, list(args), env=env, catch_exceptions=False)


def table(output: str) -> dict[str, list[str]]:
    """The status table's rows by language: prompts, recorded, ..., before info, engine..."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("language")) + 2
    rows = {}
    for line in lines[start:]:
        if not line.strip():
            break
        lang, *cells = line.split()
        rows[lang] = cells
    return rows


@pytest.fixture
def with_pashto(content_copy):
    """The content plus Pashto (English text standing in): a language no engine speaks."""
    offline_config(content_copy)
    english = yaml.safe_load((content_copy / "ivr_scripts" / "en.yaml").read_text())
    english.update(language="ps", name="پښتو")
    english.pop("twilio_say", None)
    (content_copy / "ivr_scripts" / "ps.yaml").write_text(yaml.safe_dump(english))
    set_languages(content_copy, ["fr", "nl", "en", "ar", "ps"])
    return content_copy


def test_a_language_no_engine_speaks_is_reported_as_needing_recordings(with_pashto):
    built = run(with_pashto, "build", "--lang", "en", "--lang", "ps")
    assert built.exit_code == 0, built.output
    assert "ps: no engine speaks it: needs recordings" in built.output
    result = run(with_pashto, "status")
    assert result.exit_code == 0, result.output
    rows = table(result.output)
    assert list(rows) == ["fr", "nl", "en", "ar", "ps"]
    prompts, recorded, rendered, stale, missing = (int(c) for c in rows["ps"][:5])
    assert (recorded, rendered, stale, missing) == (0, 0, 0, prompts) and prompts > 50
    assert " ".join(rows["ps"][7:]) == "none: needs recordings"
    assert rows["en"][1:5] == ["0", rows["en"][0], "0", "0"]  # all rendered, nothing missing
    assert " ".join(rows["en"][7:]) == "espeak-ng"
    assert rows["en"][6].startswith("~")  # the language menu's other lines are estimated
    assert "record its prompts in audio_cache/recordings/ps/" in result.output


def test_before_info_is_the_caller_time_of_the_rendered_audio(content_copy):
    offline_config(content_copy)
    set_languages(content_copy, ["en"])  # one language: the call starts with the welcome
    assert run(content_copy, "build").exit_code == 0
    content = load_content(content_copy)
    seconds = {e["text"]: e["seconds"] for e in read_manifest(content_copy / "audio_cache")
               .values()}
    times = caller_times(content, "en", lambda u: seconds.get(u.text))
    assert not times.estimated  # every prompt on the way has a rendered file
    first, returning = times.figures()["median item"]
    rows = table(run(content_copy, "status").output)
    assert rows["en"][6] == f"{first:.0f}/{returning:.0f}"  # no "~": all of it is rendered
    minutes = sum(seconds.values()) / 60
    assert f"total audio: {minutes:.1f} minutes in 1 languages" in run(
        content_copy, "status").output


def test_estimates_come_from_the_text_where_nothing_is_rendered(content_copy):
    offline_config(content_copy)
    set_languages(content_copy, ["en"])
    rows = table(run(content_copy, "status").output)
    first, returning = (float(x) for x in rows["en"][6].lstrip("~").split("/"))
    assert rows["en"][6].startswith("~") and 2 < returning < first < 60
    assert rows["en"][4] == rows["en"][0]  # all missing


def test_build_refuses_an_unknown_language(content_copy):
    result = run(content_copy, "build", "--lang", "xx")
    assert result.exit_code == 2 and "unknown language: xx" in result.output


def test_build_fails_when_no_engine_could_render(content_copy):
    (content_copy / "ivr_scripts" / "audio.yaml").write_text(json.dumps({
        "engines": ["gtts"], "gtts": {"tld": "com@127.0.0.1:9", "attempts": 1, "interval": 0}}))
    result = run(content_copy, "build", "--lang", "en", "--jobs", "1")
    assert result.exit_code == 1
    assert "0 up to date, rendered none" in result.output and "failed: en " in result.output
    assert not list((content_copy / "audio_cache").glob("*.wav"))


def test_a_broken_audio_config_stops_build_and_status(content_copy):
    (content_copy / "ivr_scripts" / "audio.yaml").write_text("engines: [espeak]\n")
    for command in ("build", "status"):
        result = run(content_copy, command)
        assert result.exit_code == 1 and "unknown engine 'espeak'" in result.output


def test_build_prune_through_the_cli(content_copy):
    offline_config(content_copy)
    set_languages(content_copy, ["en"])
    assert run(content_copy, "build").exit_code == 0
    stray = content_copy / "audio_cache" / ("ab" * 16 + ".wav")
    shutil.copy(next((content_copy / "audio_cache").glob("*.wav")), stray)
    result = run(content_copy, "build", "--prune")
    assert result.exit_code == 0 and "pruned 1 unreferenced files" in result.output
    assert not stray.exists()


def test_script_prints_the_exact_texts_and_writes_sidecars_to_record_from(content_copy):
    offline_config(content_copy)
    content = load_content(content_copy)
    result = run(content_copy, "script", "--lang", "nl", "--sidecars")
    assert result.exit_code == 0, result.output
    welcome = content.text("nl", "welcome")
    assert f"  2  welcome: {welcome}" in result.output and "{" not in welcome  # 112, filled in
    folder = content_copy / "audio_cache" / "recordings" / "nl"
    assert (folder / "welcome.txt").read_text(encoding="utf-8").strip() == welcome
    (folder / "welcome.txt").write_text("Edited by hand.")
    run(content_copy, "script", "--lang", "nl", "--sidecars")
    assert (folder / "welcome.txt").read_text() == "Edited by hand."  # never overwritten


@pytest.mark.slow
def test_french_dutch_and_english_are_within_the_budget_in_the_offline_voice(content_copy):
    """The budget with real durations: the shipped espeak-ng settings (rates, voices), the three
    enforced languages rendered (the first page's other languages are not: their lines come after
    these three)."""
    shipped = yaml.safe_load((content_copy / "ivr_scripts" / "audio.yaml").read_text("utf-8"))
    offline_config(content_copy, **{"espeak-ng": shipped["espeak-ng"]})
    assert run(content_copy, "build", "--offline", "--lang", "fr", "--lang", "nl",
               "--lang", "en").exit_code == 0
    content = load_content(content_copy)
    seconds = {(e["lang"], e["text"]): e["seconds"]
               for e in read_manifest(content_copy / "audio_cache").values()}
    offered = tuple(code for code in content.languages if code != "ps")  # as `hotline check`
    for lang in ("fr", "nl", "en"):
        times = caller_times(content, lang, lambda u: seconds.get((u.lang, u.text)), offered)
        assert times.over_budget() == [], (lang, times.figures())
        assert not times.estimated  # fr, nl, en come first: no other line is heard before
