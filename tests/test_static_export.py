"""The static fallback: walk the exported files as Twilio would, through the one rewrite rule."""

from __future__ import annotations

import functools
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner

from hotline.cli import main
from hotline.content.ivr import load_content
from hotline.engine import voice as engine
from tests.helpers import ROOT

BASE = "https://static.example.org/hotline"
KEYS = {"*": "star", "#": "hash", "": "silence"}
pytestmark = pytest.mark.slow  # the export writes every menu position of every language


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = tmp_path_factory.mktemp("static")
    result = CliRunner().invoke(main, ["export-static", str(out), "--base-url", BASE],
                                env={"HOTLINE_AUDIO_ROOT": str(out / "no-audio")})
    assert result.exit_code == 0, result.output
    return out


@functools.cache
def parsed(file: Path) -> ET.Element:
    """The root of an exported file, parsed once (the export is written once, and only read)."""
    return ET.parse(file).getroot()


def fetch(out: Path, url: str, digits: str | None = None) -> ET.Element:
    """GET `url` (with ?Digits=) from the static host: the nginx rule, applied in Python."""
    assert url.startswith(BASE + "/"), url
    path = urlsplit(url).path[len(urlsplit(BASE).path) + 1:]
    if path.endswith("/next"):
        path = f"{path[:-5]}/{KEYS.get(digits or '', digits)}.xml"
    return parsed(out / path)


def test_every_file_is_twiml_and_every_link_resolves(exported):
    files = list(exported.rglob("*.xml"))
    assert len(files) > 1000
    for file in files:
        root = parsed(file)
        assert root.tag == "Response"
        for verb in root.iter():
            if verb.tag == "Gather":
                assert verb.get("method") == "GET"
                for key in [*"0123456789*#", ""]:
                    fetch(exported, verb.get("action"), key)
            elif verb.tag == "Redirect":
                fetch(exported, verb.text)


def test_walk_reaches_every_item_in_every_language(exported):
    """From voice.xml, pressing keys as a caller would, every item's position is reached."""
    content = load_content(ROOT)
    for lang in content.languages:
        wanted = {n for n, node in content.nodes.items() if node.type == "info"}
        reached: set[str] = set()
        start = fetch(exported, f"{BASE}/voice.xml")
        url, *keys = [start.find("Gather").get("action"), *engine.language_keys(content, lang)]
        for key in keys[:-1]:  # a second-page language: 9 first
            url = fetch(exported, url, key).find("Gather").get("action")
        queue = [(url, keys[-1])]
        seen = set()
        while queue:
            url, key = queue.pop()
            if (url, key) in seen:
                continue
            seen.add((url, key))
            gather = fetch(exported, url, key).find("Gather")
            if gather is not None and f"/p/{lang}/" in gather.get("action"):
                reached.add(gather.get("action").split(f"/p/{lang}/")[1].split("/")[0])
                queue += [(gather.get("action"), k) for k in "0123456789*"]
        assert wanted <= reached, f"{lang}: not reached: {wanted - reached}"


def test_callbacks_and_sms_say_they_are_not_possible(exported):
    content = load_content(ROOT)
    root = fetch(exported, f"{BASE}/p/en/main/0/next", "0")
    says = [s.text for s in root.iter("Say")]
    assert says[0] == content.text("en", "cb_unavailable")
    assert root.find("Gather").get("action").endswith("/p/en/main/0/next")
    root = fetch(exported, f"{BASE}/p/fr/amu/0/next", "2")
    assert next(s.text for s in root.iter("Say")) == content.text("fr", "sms_unavailable")


def test_nginx_rule_is_written(exported):
    rule = (exported / "nginx.conf").read_text()
    assert "location /hotline/p/" in rule and "$hotline_key.xml" in rule
