"""The voice menu as static TwiML files, for a Twilio number's fallback URL: when the service is
down, any static web host keeps the information line answering.

Every position of the menu (language, node, tries so far) gets a folder `p/<lang>/<node>/<tries>/`
holding one file per key (`1.xml`, `star.xml`, `hash.xml`…) and `silence.xml`. A `<Gather>` asks
Twilio to GET `…/<tries>/next?Digits=<key>`; the host's one rewrite rule (`nginx.conf` written
beside the files) serves `<key>.xml` for it. What needs the service — a callback request, an SMS —
is replaced by a spoken "not possible at the moment".
"""

from __future__ import annotations

import shutil
from pathlib import Path

from hotline.audio.library import AudioLibrary
from hotline.content.ivr import LANGUAGE_MENU, Content
from hotline.engine import voice as engine
from hotline.engine.turns import Caller, Position, Turn, say
from hotline.twilio.twiml import render

KEYS = {**{d: d for d in "0123456789"}, "*": "star", "#": "hash"}
NGINX = """# Serve the exported hotline fallback: one rule turns a key press into a file.
# The map goes in nginx's http block, the location in the server block of the static host.
map $arg_Digits $hotline_key {{
    default  $arg_Digits;
    ""       silence;
    "*"      star;
    "%2A"    star;
    "#"      hash;
    "%23"    hash;
}}
location {prefix}/p/ {{
    types {{ text/xml xml; }}
    rewrite ^({prefix}/p/.+)/next$ $1/$hotline_key.xml last;
}}
"""


def folder(at: Position) -> str:
    """The folder of a position, relative to the export."""
    return f"p/{at.lang or '_'}/{at.node}/{at.retry}"


def key_file(at: Position, key: str | None) -> str:
    """The file Twilio gets after `key` (None: silence) at `at`."""
    return f"{folder(at)}/{KEYS[key] if key else 'silence'}.xml"


def export(content: Content, audio: AudioLibrary, out: Path, base_url: str) -> int:
    """Write the whole menu under `out`, its URLs under `base_url`; returns the files written."""
    base = base_url.rstrip("/")
    out.mkdir(parents=True, exist_ok=True)
    copied: set[str] = set()

    def audio_url(name: str) -> str:
        if name not in copied:
            (out / "audio" / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(audio.root / name, out / "audio" / name)
            copied.add(name)
        return f"{base}/audio/{name}"

    def urls(at: Position) -> tuple[str, str, str]:
        return f"{base}/{folder(at)}/next", f"{base}/{key_file(at, None)}", "GET"

    def write(path: str, turn: Turn) -> None:
        (out / path).parent.mkdir(parents=True, exist_ok=True)
        (out / path).write_text(render(turn, content, audio, audio_url, urls), encoding="utf-8")

    first = engine.incoming(content)
    write("voice.xml", first)
    written, seen = 1, set()
    queue = [first.listen] if first.listen else []
    while queue:
        at = queue.pop(0)
        if at in seen:
            continue
        seen.add(at)
        for key in [*KEYS, None]:
            turn = _static_turn(content, at, key)
            write(key_file(at, key), turn)
            written += 1
            if turn.listen is not None and turn.listen not in seen:
                queue.append(turn.listen)
    (out / "nginx.conf").write_text(NGINX.format(prefix=_path_of(base)), encoding="utf-8")
    return written + 1


def _static_turn(content: Content, at: Position, key: str | None) -> Turn:
    """The engine's turn, without what a static file cannot do (callbacks, SMS)."""
    turn = engine.respond(content, at, key, Caller(number=None, can_text=False))
    if turn.code_input:  # a static file cannot read a two-key code: a wrong key here
        turn = engine.respond(content, at, "invalid", Caller(number=None, can_text=False))
    if at.node != LANGUAGE_MENU and at.lang and turn.personal:
        # Say so, then offer the choices of this node again (its replay, less "no input").
        again = engine.respond(content, Position(at.node, at.lang), None)
        return Turn((say(content, at.lang, "cb_unavailable"), *again.say[1:]),
                    Position(at.node, at.lang))
    return turn


def _path_of(base: str) -> str:
    after_host = base.split("://", 1)[-1]
    return "/" + after_host.split("/", 1)[1] if "/" in after_host else ""
