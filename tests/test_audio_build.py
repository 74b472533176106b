"""Building the audio cache: every prompt, incrementally, in parallel, pruned, atomically listed."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml

from hotline.audio.build import (
    FORMAT,
    build,
    ensure_audio,
    file_name,
    prompts_of,
    prune_cache,
    read_manifest,
    update_manifest,
)
from hotline.audio.config import AudioConfig, load_audio_config
from hotline.audio.library import MANIFEST, AudioLibrary, text_id
from hotline.audio.status import voice_ready
from hotline.content.ivr import LANGUAGE_MENUS, ContentError, load_content
from hotline.engine import callback as callback_flow
from hotline.engine import voice as engine
from hotline.engine.turns import Caller, Position
from hotline.twilio.twiml import render
from tests.helpers import ROOT
from tests.test_audio_support import (
    GoogleStub,
    check_telephone_wav,
    offline_config,
    set_languages,
    set_prompt,
)

OPENING_TIMES = ("9:00", "13:30")  # the pieces a reopening time is spoken from


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The project's real content, every language rendered offline once (shared, read only)."""
    root = tmp_path_factory.mktemp("content")
    shutil.copytree(ROOT / "ivr_scripts", root / "ivr_scripts")
    offline_config(root)
    audio = root / "audio_cache"
    report = build(load_content(root), audio, jobs=2, times=OPENING_TIMES)
    return load_content(root), audio, report


@pytest.mark.slow
def test_every_prompt_of_every_language_is_a_valid_telephone_file(built):
    content, audio, report = built
    every = prompts_of(content, times=OPENING_TIMES)
    assert {p.lang for p in every} == set(content.languages) and len(every) > 400
    # Pashto has no engine (espeak-ng has no Pashto voice): nothing is rendered for it, no other
    # language's voice stands in; its prompts wait for recordings
    prompts = [p for p in every if p.lang != "ps"]
    assert report.failed == [] and report.rendered == {"espeak-ng": len(prompts)}
    assert report.no_engine == ["ps"]
    manifest = read_manifest(audio)
    assert set(manifest) == {p.id for p in prompts}
    for prompt in prompts:
        entry = manifest[prompt.id]
        assert entry["text"] == prompt.text and entry["format"] == FORMAT
        assert entry["file"] == file_name(prompt.spoken, entry["engine"], entry["voice"])
        info = check_telephone_wav(audio / entry["file"], prompt.text)
        assert entry["seconds"] == pytest.approx(info.seconds, abs=0.001)
        assert AudioLibrary(audio).find(prompt.lang, prompt.text) == entry["file"]


@pytest.mark.slow
def test_a_build_with_nothing_to_do_renders_and_writes_nothing(built):
    # (its duration is measured by `make bench`, not asserted here)
    content, audio, _ = built
    before = {p.name: p.stat().st_mtime_ns for p in audio.iterdir()}
    report = build(content, audio, jobs=2)
    assert report.rendered == {} and report.up_to_date == report.prompts
    assert {p.name: p.stat().st_mtime_ns for p in audio.iterdir()} == before  # manifest too


def test_the_command_line_starts_without_the_web_stack():
    """`hotline audio build`, run after every change, loads no web server, Twilio or Redis
    client (they made its start, with nothing to build, take 1.5 s of the "about 1 s")."""
    heavy = "'flask', 'werkzeug', 'twilio.rest', 'redis', 'rq', 'hotline.services', 'hotline.app'"
    code = f"import sys, hotline.cli; print(*(m for m in ({heavy}) if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, cwd=ROOT).stdout.split()
    assert loaded == []


@pytest.fixture
def small(english_site):
    """A content copy with offline engines and its English audio built."""
    return english_site, english_site / "audio_cache"


def test_an_edited_prompt_is_rendered_again_and_the_lookup_follows_the_text(small):
    root, audio = small
    old = load_content(root).text("en", "headline")
    set_prompt(root, "en", "headline", "This is the main menu.")
    report = build(load_content(root), audio, langs=["en"])
    assert report.rendered == {"espeak-ng": 1} and report.up_to_date == report.prompts - 1
    library = AudioLibrary(audio)
    new_file, old_file = library.find("en", "This is the main menu."), library.find("en", old)
    assert new_file and old_file and new_file != old_file
    check_telephone_wav(audio / new_file, "This is the main menu.")
    # A web process that still runs the old text keeps its audio until the cache is pruned.
    report = build(load_content(root), audio, langs=["en"], prune=True)
    assert report.pruned == 1 and not (audio / old_file).exists()
    assert library.find("en", old) is None and library.find("en", "This is the main menu.")


def test_prune_deletes_only_unreferenced_files_named_like_ours(small):
    root, audio = small
    stray = audio / file_name("gone", "espeak-ng", "en@150wpm")
    stray.write_bytes(b"RIFF")
    mine = audio / "jingle.wav"
    mine.write_bytes(b"RIFF")
    (audio / "recordings" / "en").mkdir(parents=True)
    recording = audio / "recordings" / "en" / "welcome.wav"
    recording.write_bytes(b"RIFF")
    report = build(load_content(root), audio, langs=["en"], prune=True)
    assert report.pruned == 1 and not stray.exists() and mine.exists() and recording.exists()


def test_pruning_one_language_leaves_the_others_alone(small):
    root, audio = small
    build(load_content(root), audio, langs=["fr"])
    update_manifest(audio, {text_id("en", "An old text."): {
        "file": "x.wav", "lang": "en", "keys": ["k"], "text": "An old text."}})
    build(load_content(root), audio, langs=["fr"], prune=True)
    assert text_id("en", "An old text.") in read_manifest(audio)
    assert prune_cache(audio, {p.id for p in prompts_of(load_content(root))}) == 0
    assert text_id("en", "An old text.") not in read_manifest(audio)
    assert len(read_manifest(audio)) == len(prompts_of(load_content(root), ["en", "fr"]))


@pytest.mark.slow
def test_parallel_and_serial_builds_list_the_same_files(content_copy, tmp_path):
    offline_config(content_copy)
    content = load_content(content_copy)
    serial = build(content, tmp_path / "one", langs=["ar"], jobs=1)
    parallel = build(content, tmp_path / "four", langs=["ar"], jobs=4)
    assert serial.rendered == parallel.rendered == {"espeak-ng": serial.prompts}
    one, four = read_manifest(tmp_path / "one"), read_manifest(tmp_path / "four")
    assert one.keys() == four.keys()
    for key, entry in one.items():  # espeak-ng varies a few milliseconds from run to run
        assert entry == {**four[key], "seconds": entry["seconds"]}
        assert entry["seconds"] == pytest.approx(four[key]["seconds"], abs=0.1)


def test_manifest_writes_are_atomic_for_concurrent_writers_and_readers(tmp_path):
    errors: list[Exception] = []
    done = threading.Event()

    def write(n: int) -> None:
        for i in range(40):
            update_manifest(tmp_path, {f"{n}-{i}": {"file": f"{n}-{i}.wav", "text": "x" * 500}})

    def read() -> None:
        while not done.is_set():
            try:
                if (tmp_path / MANIFEST).exists():
                    json.loads((tmp_path / MANIFEST).read_text())
            except (ValueError, FileNotFoundError) as exc:
                errors.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    writers = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in writers:
        t.start()
    for t in writers:
        t.join()
    done.set()
    reader.join()
    assert errors == []
    assert len(read_manifest(tmp_path)) == 160  # no writer lost another's entries
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp")] == []


@pytest.mark.slow
def test_an_offline_build_keeps_a_better_engines_rendering_and_an_online_one_upgrades(
        content_copy, tmp_path, monkeypatch):
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    stub = GoogleStub(seconds_per_char=0.06).start(tmp_path)  # a lone digit lasts 0.06 s
    try:
        (content_copy / "ivr_scripts" / "audio.yaml").write_text(yaml.safe_dump({
            "engines": ["gtts", "espeak-ng"],
            "gtts": {"tld": stub.tld, "interval": 0, "attempts": 2, "backoff": 0.01}}))
        long = {k: t for k, t in load_content(content_copy).languages["en"].prompts.items()
                if len(t) > 100}
        for key, text in long.items():  # one request a prompt: gTTS connects anew each time
            digit = " Press {digit}." if "{digit}" in text else ""
            set_prompt(content_copy, "en", key, f"About {key.replace('_', ' ')}.{digit}")
        content = load_content(content_copy)
        audio = content_copy / "audio_cache"
        stub.script = [503] * 4  # gTTS is down for the first prompts: espeak-ng stands in
        first = build(content, audio, langs=["en"], jobs=1)
        assert first.rendered == {"gtts": first.prompts - 2, "espeak-ng": 2}, first.fallbacks
        assert len(first.fallbacks) == 2 and first.failed == []
        offline = build(content, audio, langs=["en"], offline=True)
        assert offline.rendered == {}  # gTTS's files are kept: better than what it would make
        again = build(content, audio, langs=["en"])
        assert again.rendered == {"gtts": 2}  # the stand-ins are replaced once gTTS is back
        engines = {e["engine"] for e in read_manifest(audio).values()}
        assert engines == {"gtts"}
    finally:
        stub.stop()


def test_an_online_build_without_internet_reuses_the_offline_files(small):
    root, audio = small
    (root / "ivr_scripts" / "audio.yaml").write_text(yaml.safe_dump({
        "engines": ["gtts", "espeak-ng"],
        "gtts": {"tld": "com@127.0.0.1:9", "attempts": 1, "interval": 0}}))  # nobody there
    before = read_manifest(audio)
    report = build(load_content(root), audio, langs=["en"], jobs=2)
    assert report.rendered == {} and report.reused == report.prompts and report.failed == []
    assert len(report.fallbacks) == report.prompts
    assert any("Failed to connect" in f for f in report.fallbacks)  # the first to try (of 2 jobs)
    assert report.lines()[0].endswith(f"rendered none, {report.prompts} files reused, "
                                      f"0 recordings converted, 0 failed ({report.seconds:.1f} s)")
    assert read_manifest(audio) == before


def test_ensure_audio_renders_offline_then_is_quick(content_copy):
    (content_copy / "ivr_scripts" / "audio.yaml").write_text("engines: [gtts, espeak-ng]\n")
    set_languages(content_copy, ["nl"])
    said: list[str] = []
    audio = content_copy / "audio_cache"
    first = ensure_audio(content_copy, audio, echo=said.append)
    assert first and first.rendered == {"espeak-ng": first.prompts}  # never gTTS: offline
    second = ensure_audio(content_copy, audio, echo=said.append)
    assert second and second.rendered == {} and second.up_to_date == second.prompts
    assert said[0].startswith(f"audio: {first.prompts} prompts, 0 up to date")


def test_ensure_audio_never_stops_the_start(content_copy):
    (content_copy / "ivr_scripts" / "audio.yaml").write_text("engines: [festival]\n")
    said: list[str] = []
    assert ensure_audio(content_copy, content_copy / "audio_cache", echo=said.append) is None
    assert "festival" in said[0] and "<Say>" in said[0]


@pytest.mark.parametrize(("text", "problem"), [
    ("engines: [festival]", "engines: unknown engine 'festival'"),
    ("languages: {ps: espeak-ng}", "languages.ps: must be a list"),
    ("espeak-ng: {rate: 20}", "espeak-ng.rate: must be words per minute"),
    ("gtts: {interval: -1}", "gtts.interval: must be a number"),
    ("gtts: {voice: x}", "gtts.voice: unknown setting"),
    ("engines: [gtts", "not valid YAML"),
])
def test_a_broken_audio_config_names_the_file_and_the_key(tmp_path: Path, text, problem):
    (tmp_path / "ivr_scripts").mkdir()
    (tmp_path / "ivr_scripts" / "audio.yaml").write_text(text)
    with pytest.raises(ContentError) as caught:
        load_audio_config(tmp_path)
    assert f"ivr_scripts/audio.yaml: {problem}" in str(caught.value)


def test_the_audio_config_sets_each_languages_order(tmp_path):
    (tmp_path / "ivr_scripts").mkdir()
    (tmp_path / "ivr_scripts" / "audio.yaml").write_text(
        "engines: [espeak-ng, gtts]\nlanguages: {ps: [], ti: [espeak-ng]}\n")
    config = load_audio_config(tmp_path)
    assert config.order_for("fr") == ("espeak-ng", "gtts")
    assert config.order_for("ps") == () and config.order_for("ti") == ("espeak-ng",)
    assert load_audio_config(tmp_path / "nowhere") == AudioConfig()


@pytest.mark.slow
def test_with_its_audio_every_language_is_offered_and_every_path_speaks_only_it(built):
    """Walk every key at every position of every language, callback requests included (with a
    caller ID and without, open and closed): everything the line says plays a file of the
    caller's own language, pieces included; never a <Say>, never another language."""
    content, audio, _ = built
    library = AudioLibrary(audio)
    offered = voice_ready(content, library, OPENING_TIMES)
    # Dari and Tigrinya too, once rendered; never Pashto: no engine speaks it, and no recording
    # exists, so it stays SMS only rather than heard in another language's voice
    assert offered == tuple(c for c in content.languages if c != "ps")
    callers = [Caller("+32470123456", True, None, offered=offered),
               Caller(None, False, (0, "9:00"), offered=offered),
               Caller("+32470123456", True, (3, "13:30"), offered=offered)]
    first = engine.incoming(content, caller=callers[0])
    assert "ps" not in {u.lang for u in first.say}
    for lang in offered:
        seen: set[Position] = set()
        turns = []
        for c in callers:
            turn = engine.incoming(content, caller=c)
            for key in engine.language_keys(content, lang, caller=c):
                assert turn.listen is not None
                turn = engine.respond(content, turn.listen, key, c)
            turns.append(turn)
        node = content.nodes["mediator"]
        turns += [callback_flow.after_ticket(content, lang, node, "482913", joined, c)
                  for joined in (True, False) for c in callers]
        turns += [callback_flow.done(content, lang, node, "482913", c) for c in callers]
        queue = [(t, c) for t in turns for c in callers]
        while queue:
            turn, caller = queue.pop()
            language_menu = turn.listen is not None and turn.listen.node in LANGUAGE_MENUS
            for utterance in turn.say:  # the language menu names each language in itself
                assert language_menu or utterance.lang == lang, (lang, utterance)
                for piece in utterance.pieces or (utterance.text,):
                    assert library.find(utterance.lang, piece), f"{lang} {utterance.key}: {piece!r}"
            twiml = render(turn, content, library, lambda name: f"/audio/{name}")
            assert "<Say" not in twiml, twiml
            if turn.listen is None or turn.listen in seen or language_menu:
                continue
            seen.add(turn.listen)
            for key in [*"0123456789*#", "21", "0470123499", None]:
                queue.append((engine.respond(content, turn.listen, key, caller), caller))


def test_menu_lines_are_rendered_at_the_menu_rate_and_information_at_the_normal_one(tmp_path):
    root = tmp_path / "content"
    shutil.copytree(ROOT / "ivr_scripts", root / "ivr_scripts")
    offline_config(root, **{"espeak-ng": {"rate": 150, "menu_rate": 180}})
    content = load_content(root)
    build(content, root / "audio_cache", langs=["en"], jobs=2)
    manifest = read_manifest(root / "audio_cache")
    voices = {key: entry["voice"] for entry in manifest.values() for key in entry["keys"]}
    assert voices["opt_cpas"] == voices["opt_repeat"] == voices["language_option"] == "en@180wpm"
    assert voices["info_cpas_what"] == voices["welcome_back"] == voices["headline"] == "en@150wpm"
    assert {p.menu for p in prompts_of(content, ["en"]) if "opt_cpas" in p.keys} == {True}


def test_a_menu_rate_out_of_range_is_named(tmp_path):
    root = tmp_path / "content"
    shutil.copytree(ROOT / "ivr_scripts", root / "ivr_scripts")
    offline_config(root, **{"espeak-ng": {"menu_rate": 900}})
    with pytest.raises(ContentError, match=r"espeak-ng\.menu_rate"):
        load_audio_config(root)
