"""The pure voice engine: a table of calls, and a walk over every reachable position."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from hotline.content.ivr import (
    LANGUAGE_MENU,
    LANGUAGE_MENUS,
    LANGUAGE_MORE,
    ContentError,
    load_content,
)
from hotline.engine import voice as engine
from hotline.engine.voice import Caller, Position
from tests.helpers import ROOT

CASES = yaml.safe_load((Path(__file__).parent / "cases" / "voice_walks.yaml").read_text())


@pytest.fixture(scope="module")
def content():
    return load_content(ROOT)


def play(content, keys: list[str]) -> engine.Turn:
    turn = engine.incoming(content)
    for key in keys:
        assert turn.listen is not None, f"the line hung up before {key!r}"
        turn = engine.respond(content, turn.listen, None if key == "." else key)
    return turn


def choose(content, lang: str, caller: Caller | None = None, hint=None) -> engine.Turn:
    """A first call that chooses `lang` at the language menu (on its second page if there)."""
    turn = engine.incoming(content, None, caller, hint)
    for key in engine.language_keys(content, lang, hint, caller):
        assert turn.listen is not None and turn.listen.node in LANGUAGE_MENUS
        turn = engine.respond(content, turn.listen, key, caller)
    assert turn.listen is not None and turn.listen.lang == lang, (lang, turn)
    return turn


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_call_table(content, case):
    turn = play(content, case["keys"])
    expected = []
    for key in case["hears"]:
        expected += [key[:-1]] * len(content.languages) if key.endswith("*") else [key]
    assert [u.key for u in turn.say] == expected
    assert (turn.listen.node if turn.listen else None) == case["listens_at"]
    assert (turn.listen.step if turn.listen else None) == case.get("step")
    if "lang" in case:
        assert {u.lang for u in turn.say} == {case["lang"]}


def test_language_menu_offers_each_language_in_itself(content):
    turn = engine.incoming(content)
    assert [u.lang for u in turn.say] == list(content.languages)
    assert [u.text for u in turn.say][2] == "English: 3."


def test_twelve_languages_fit_a_keypad_with_a_second_page(content):
    """Page 1: eight languages on 1-8, then each second-page language in itself with 9; 9 opens
    page 2, where each has its own key; * goes back to page 1."""
    first, more = content.pages()
    assert len(content.languages) == 12 and len(first) == 8 and len(more) == 4
    turn = engine.incoming(content)
    assert [u.text for u in turn.say][7:] == ["Русский: 8.", "Türkçe: 9.", "Español: 9.",
                                               "Română: 9.", "پښتو: 9."]
    page2 = engine.respond(content, turn.listen, "9")
    assert [u.text for u in page2.say] == ["Türkçe: 1.", "Español: 2.", "Română: 3.", "پښتو: 4."]
    assert page2.listen == Position(LANGUAGE_MORE)
    for key, lang in enumerate(more, start=1):
        assert engine.respond(content, page2.listen, str(key)).listen == Position("main", lang)
    assert engine.respond(content, page2.listen, "*").say == turn.say
    assert engine.language_keys(content, "es") == ("9", "2")
    assert engine.language_keys(content, "ru") == ("8",)


def test_at_most_nine_keys_a_page(tmp_path):
    (tmp_path / "ivr_scripts").mkdir()
    shutil.copytree(ROOT / "ivr_scripts", tmp_path / "ivr_scripts", dirs_exist_ok=True)
    menu = tmp_path / "ivr_scripts" / "menu.yaml"
    text = menu.read_text()
    more = "more_languages: [tr, es, ro, ps]"
    menu.write_text(text.replace("languages: [fr, nl, en, ar, uk, prs, ti, ru]",
                                 "languages: [fr, nl, en, ar, uk, prs, ti, ru, tr]")
                        .replace(more, "more_languages: [es, ro, ps]"))
    with pytest.raises(ContentError, match="8 with more_languages"):
        load_content(tmp_path)
    menu.write_text(text.replace(more, "more_languages: [tr, es, fr]"))
    with pytest.raises(ContentError, match="a language is listed twice"):
        load_content(tmp_path)


def test_one_page_when_there_is_no_second(tmp_path):
    """Without more_languages every language is on one page, key 9 included, and a call still
    on a second page that no longer exists hears the first (the menu changed during the call)."""
    shutil.copytree(ROOT / "ivr_scripts", tmp_path / "ivr_scripts")
    menu = tmp_path / "ivr_scripts" / "menu.yaml"
    menu.write_text(menu.read_text().replace("languages: [fr, nl, en, ar, uk, prs, ti, ru]",
                                             "languages: [fr, nl, en, ar, uk, prs, ti, ru, tr]")
                    .replace("more_languages: [tr, es, ro, ps]", ""))
    small = load_content(tmp_path)
    turn = engine.incoming(small)
    assert [u.text for u in turn.say][-1] == "Türkçe: 9." and len(turn.say) == 9
    assert engine.respond(small, turn.listen, "9").listen == Position("main", "tr")
    stale = engine.respond(small, Position(LANGUAGE_MORE), None)
    assert stale.say == turn.say and stale.listen.node == LANGUAGE_MENU
    assert {u.lang for u in engine.utterances(small)} == set(small.languages)


def test_a_country_code_offers_its_second_page_language_on_the_first_page(content):
    """+34 (Spain) hears Español first, with 0, and chooses it with one key; the other second-page
    languages keep 9. Moldova (+373) hears Romanian (0), then Russian (its key 8)."""
    hint = content.hinted_languages("+34612345678")
    assert hint == ("es",)
    turn = engine.incoming(content, hint=hint)
    said = [u.text for u in turn.say]
    assert said[0] == "Español: 0." and "Español: 9." not in said
    assert said[1:9] == [u.text for u in engine.incoming(content).say][:8]
    assert said[9:] == ["Türkçe: 9.", "Română: 9.", "پښتو: 9."]
    assert engine.respond(content, turn.listen, "0").listen == Position("main", "es")
    assert engine.language_keys(content, "es", hint) == ("0",)
    again = engine.respond(content, turn.listen, "*")  # a wrong key replays it, Español still 0
    assert again.say == turn.say and engine.respond(content, again.listen, "0").listen.lang == "es"
    assert engine.respond(content, turn.listen, "9").listen == Position(LANGUAGE_MORE)
    moldova = content.hinted_languages("+37360123456")
    assert moldova == ("ro", "ru")
    said = [u.text for u in engine.incoming(content, hint=moldova).say]
    assert said[:2] == ["Română: 0.", "Русский: 8."] and said.count("Русский: 8.") == 1
    assert content.hinted_languages("+905321234567") == ("tr",)
    assert content.hinted_languages("+79161234567") == ("ru",)
    assert content.hinted_languages("+40721234567") == ("ro",)
    assert content.hinted_languages("+923001234567") == ("ps",)
    assert content.hinted_languages("+93701234567") == ("prs", "ps")  # Dari first
    arabic = engine.incoming(content, hint=content.hinted_languages("+212612345678"))
    assert arabic.say[0].text == "العربية: 4." and arabic.listen.step is None


def test_pashto_is_sms_only_on_the_voice_line_until_recorded(content, tmp_path):
    """No engine speaks Pashto: with no recordings it is not voice-ready, so the voice line never
    names it, never lets a key choose it, and a Pakistani number's hint offers nothing in it."""
    from hotline.audio.library import AudioLibrary
    from hotline.audio.status import voice_ready

    ready = voice_ready(content, AudioLibrary(tmp_path))
    assert "ps" not in ready and {"fr", "nl", "en", "ru", "tr", "es", "ro"} <= set(ready)
    caller = Caller(offered=ready)
    for hint in (None, content.hinted_languages("+923001234567"),
                 content.hinted_languages("+93701234567")):
        turn = engine.incoming(content, None, caller, hint)
        assert "ps" not in {u.lang for u in turn.say}
        page2 = engine.respond(content, turn.listen, "9", caller)
        assert "ps" not in {u.lang for u in page2.say}
        assert engine.respond(content, page2.listen, "4", caller).listen.node == LANGUAGE_MORE
        assert engine.respond(content, turn.listen, "0", caller).listen.node == LANGUAGE_MENU
    assert engine.incoming(content, "ps", caller).listen.node == LANGUAGE_MENU  # not remembered


def test_welcome_names_the_emergency_number_in_every_language(content):
    for lang in content.languages:
        turn = choose(content, lang)
        assert turn.say[0].key == "welcome"
        assert "112" in turn.say[0].text, lang


def test_star_is_spoken_as_a_word(content):
    turn = play(content, ["1"])
    assert turn.say[-1].text == "Langue : étoile."


def test_every_item_reachable_in_every_language_and_no_dead_end(content):
    """Breadth-first over every key at every position: all items are heard, nothing breaks."""
    infos = {name for name, node in content.nodes.items() if node.type == "info"}
    for lang in content.languages:
        start = choose(content, lang)
        seen: set[Position] = set()
        queue = [start.listen]
        heard: set[str] = set()
        while queue:
            at = queue.pop(0)
            if at in seen:
                continue
            seen.add(at)
            for key in [*"0123456789*#", None]:
                turn = engine.respond(content, at, key)
                assert turn.say, f"{lang} {at} {key}: silent turn"
                assert all(u.text.strip() for u in turn.say)
                if turn.listen is None:
                    assert turn.say[-1].key == "goodbye", f"{lang} {at} {key}: dead end"
                    continue
                heard.update(u.key for u in turn.say)
                if turn.listen.node not in LANGUAGE_MENUS:
                    assert turn.listen.lang == lang
                    queue.append(turn.listen)
        missing = {n for n in infos if content.nodes[n].prompt not in heard}
        assert not missing, f"{lang}: unreachable items {missing}"


def test_position_from_a_changed_menu_restarts_at_main(content):
    turn = engine.respond(content, Position("no-such-node", "fr"), "1")
    assert turn.listen == Position("main", "fr")


def test_unknown_language_goes_back_to_the_language_menu(content):
    turn = engine.respond(content, Position("main", "xx"), None)
    assert turn.listen.node == LANGUAGE_MENU


def test_multi_digit_input_is_a_wrong_key(content):
    turn = engine.respond(content, Position("main", "en"), "12")
    assert turn.say[0].key == "invalid"


def test_utterances_are_distinct_and_cover_every_item(content):
    said = list(engine.utterances(content))
    assert len({(u.lang, u.text) for u in said}) == len(said)
    keys = {(u.lang, u.key) for u in said}
    for lang in content.languages:
        for node in content.nodes.values():
            if node.type == "info":
                assert (lang, node.prompt) in keys
