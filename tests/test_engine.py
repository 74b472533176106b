"""The pure voice engine: a table of calls, and a walk over every reachable position."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from hotline.content.ivr import LANGUAGE_MENU, load_content
from hotline.engine import voice as engine
from hotline.engine.voice import Position
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


def test_welcome_names_the_emergency_number_in_every_language(content):
    for digit, lang in enumerate(content.languages, start=1):
        turn = engine.respond(content, Position(LANGUAGE_MENU), str(digit))
        assert turn.say[0].key == "welcome"
        assert "112" in turn.say[0].text, lang


def test_star_is_spoken_as_a_word(content):
    turn = play(content, ["1"])
    assert turn.say[-1].text == "Langue : étoile."


def test_every_item_reachable_in_every_language_and_no_dead_end(content):
    """Breadth-first over every key at every position: all items are heard, nothing breaks."""
    infos = {name for name, node in content.nodes.items() if node.type == "info"}
    for digit, lang in enumerate(content.languages, start=1):
        start = engine.respond(content, Position(LANGUAGE_MENU), str(digit))
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
                if turn.listen.node != LANGUAGE_MENU:
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
