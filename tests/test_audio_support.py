"""Helpers for the audio tests (no tests here): WAV checks, a gTTS stub server, content edits."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import io
import json
import ssl
import struct
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import soundfile
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

ROOT = Path(__file__).resolve().parent.parent
WAVE_FORMAT_MULAW = 7
STUB_SECONDS_PER_CHAR = 0.05  # the stub "speaks" a tone this long per character


@dataclass(frozen=True)
class WavInfo:
    """What a WAV file's own header says, read byte by byte (independent of our writer)."""

    format_tag: int
    channels: int
    rate: int
    bits: int
    frames: int

    @property
    def seconds(self) -> float:
        return self.frames / self.rate


def wav_info(path: Path) -> WavInfo:
    """Parse the RIFF chunks of `path`; fails on anything that is not a whole WAV file."""
    data = path.read_bytes()
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE", f"{path.name}: not a WAV file"
    assert struct.unpack("<I", data[4:8])[0] == len(data) - 8, f"{path.name}: truncated"
    chunks, pos = {}, 12
    while pos + 8 <= len(data):
        name, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        chunks[name] = data[pos + 8:pos + 8 + size]
        pos += 8 + size + (size & 1)
    tag, channels, rate, _, align, bits = struct.unpack("<HHIIHH", chunks[b"fmt "][:16])
    return WavInfo(tag, channels, rate, bits, len(chunks[b"data"]) // align)


def check_telephone_wav(path: Path, text: str) -> WavInfo:
    """Assert `path` is 8 kHz mono mu-law, decodes, is not silent, and lasts as long as `text`
    plausibly takes to say (between 40 and 4 characters a second, and at least 0.3 s; a piece
    of a few letters, such as a digit, a time or "à", from 0.1 to 3 s)."""
    info = wav_info(path)
    assert (info.format_tag, info.channels, info.rate, info.bits) == (WAVE_FORMAT_MULAW, 1, 8000, 8)
    samples, rate = soundfile.read(path, dtype="float32")
    assert rate == 8000 and len(samples) == info.frames
    assert float(np.sqrt(np.mean(samples ** 2))) > 0.02, f"{path.name} is (nearly) silent"
    short = len(text) <= 5  # a digit, a time, "à": a piece of a prompt that speaks a value
    shortest = 0.1 if short else max(0.3, len(text) / 40)
    longest = 3.0 if short else len(text) / 4 + 1.0
    assert shortest <= info.seconds <= longest, (text, info.seconds)
    return info


def set_prompt(root: Path, lang: str, key: str, text: str) -> None:
    """Change one prompt's text in the content copy at `root`."""
    path = root / "ivr_scripts" / f"{lang}.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["prompts"][key] = text
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def set_languages(root: Path, codes: list[str]) -> None:
    """Offer only `codes` (in this order) in the content copy at `root`."""
    path = root / "ivr_scripts" / "menu.yaml"
    menu = yaml.safe_load(path.read_text(encoding="utf-8"))
    menu["languages"] = codes
    menu.pop("more_languages", None)  # no second page
    path.write_text(yaml.safe_dump(menu, allow_unicode=True), encoding="utf-8")


def offline_config(root: Path, **extra: Any) -> None:
    """Write the content copy's audio.yaml: espeak-ng only (no test ever reaches the internet),
    its default voices, but Dari's, which only the project's mapping gives (Persian)."""
    shipped = yaml.safe_load((ROOT / "ivr_scripts" / "audio.yaml").read_text(encoding="utf-8"))
    dari = {"prs": shipped["espeak-ng"]["languages"]["prs"]}
    config = {"engines": ["espeak-ng"], "espeak-ng": {"languages": dari}, **extra}
    (root / "ivr_scripts" / "audio.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")


def tone_mp3(seconds: float, rate: int = 24000) -> bytes:
    """An MP3 (as gTTS gets from Google) holding a tone `seconds` long."""
    t = np.arange(int(seconds * rate)) / rate
    buffer = io.BytesIO()
    soundfile.write(buffer, (0.4 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), rate,
                    format="MP3")
    return buffer.getvalue()


@dataclass
class Seen:
    """One request the stub answered."""

    at: float
    text: str
    lang: str


@dataclass
class GoogleStub:
    """Google Translate's TTS endpoint, as gTTS calls it, over HTTPS with a self-signed
    certificate on 127.0.0.1. `script` holds what to do for the next requests, in order:
    "ok", an HTTP status (int), ("sleep", seconds) before answering, "no-audio", "not-mp3";
    when it runs out, every request is "ok"."""

    script: list[Any] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    retry_after: str | None = None
    seconds_per_char: float = STUB_SECONDS_PER_CHAR

    def start(self, cert_dir: Path) -> GoogleStub:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                rpc = json.loads(urllib.parse.parse_qs(body)["f.req"][0])
                text, lang = json.loads(rpc[0][0][1])[:2]
                with lock:
                    stub.seen.append(Seen(time.monotonic(), text, lang))
                    action = stub.script.pop(0) if stub.script else "ok"
                # The client may have given up waiting (a timeout test).
                with contextlib.suppress(BrokenPipeError, ConnectionResetError, ssl.SSLError):
                    stub.answer(self, action, text)

        lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(_self_signed(cert_dir))
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        # A short poll: stop() waits for the serving loop to notice (0.5 s by default).
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        return self

    @property
    def tld(self) -> str:
        """gTTS's `tld` that points it here: https://translate.google.com@127.0.0.1:PORT/..."""
        return f"com@127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answer(self, handler: BaseHTTPRequestHandler, action: Any, text: str) -> None:
        if isinstance(action, tuple) and action[0] == "sleep":
            time.sleep(action[1])
            action = "ok"
        if isinstance(action, int):
            handler.send_response(action)
            if action == 429 and self.retry_after:
                handler.send_header("Retry-After", self.retry_after)
            handler.end_headers()
            return
        audio = {"ok": tone_mp3(len(text) * self.seconds_per_char), "not-mp3": b"\0" * 64}
        payload = [base64.b64encode(audio[action]).decode()] if action in audio else None
        rpc = ["wrb.fr", "jQ1olc", json.dumps(payload) if payload else None, None, None, None,
               "generic"]
        body = ")]}'\n\n" + json.dumps([rpc], separators=(",", ":")) + "\n"
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json; charset=utf-8")
        handler.end_headers()
        handler.wfile.write(body.encode())


def _self_signed(folder: Path) -> Path:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=1))
            .not_valid_after(now + dt.timedelta(hours=1)).sign(key, hashes.SHA256()))
    path = folder / "stub.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return path
