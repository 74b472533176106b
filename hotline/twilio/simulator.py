"""A phone in a terminal: calls and texts the line as Twilio would, with signed requests.

`PhoneCall` follows Gather, Redirect, Play, Say and Hangup; `Texter` sends SMS and reads the
replies. Both talk to a running service over HTTP (`HttpLine`) or to an app in the same process
(`InProcessLine`), signing every request with the auth token exactly as Twilio does.
"""

from __future__ import annotations

import json
import secrets
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit

import phonenumbers
import requests
from twilio.request_validator import RequestValidator

from hotline.audio.library import texts_by_file

# A caller's number for simulated calls: libphonenumber's example Belgian mobile number.
_EXAMPLE = phonenumbers.example_number_for_type("BE", phonenumbers.PhoneNumberType.MOBILE)
assert _EXAMPLE is not None  # libphonenumber's metadata always has one for Belgium
EXAMPLE_MOBILE = phonenumbers.format_number(_EXAMPLE, phonenumbers.PhoneNumberFormat.E164)


class Line(Protocol):
    """Something that answers Twilio-style requests: returns (status, body)."""

    base_url: str

    def post(self, url: str, params: dict[str, str], signature: str) -> tuple[int, str]: ...

    def get(self, url: str) -> tuple[int, str]: ...


class HttpLine:
    """A running service at `base_url`."""

    def __init__(self, base_url: str):
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()

    def post(self, url: str, params: dict[str, str], signature: str) -> tuple[int, str]:
        reply = self.session.post(
            url, data=params, headers={"X-Twilio-Signature": signature}, timeout=15
        )
        return reply.status_code, reply.text

    def get(self, url: str) -> tuple[int, str]:
        reply = self.session.get(url, timeout=15)
        return reply.status_code, reply.text


class InProcessLine:
    """A Flask app in this process, through its test client."""

    base_url = "http://localhost"

    def __init__(self, app: Any):
        self.client = app.test_client()

    def post(self, url: str, params: dict[str, str], signature: str) -> tuple[int, str]:
        reply = self.client.post(
            _path(url), data=params, headers={"X-Twilio-Signature": signature}
        )
        return reply.status_code, reply.get_data(as_text=True)

    def get(self, url: str) -> tuple[int, str]:
        reply = self.client.get(_path(url))
        return reply.status_code, reply.get_data(as_text=True)


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


@dataclass
class Heard:
    """One thing the caller hears: spoken text, and the audio file when one is played."""

    text: str
    audio: str | None = None
    language: str | None = None


@dataclass
class Screen:
    """What one TwiML document does: what is heard, and whether the line waits for a key."""

    heard: list[Heard] = field(default_factory=list)
    gather_url: str | None = None
    timeout_url: str | None = None
    hung_up: bool = False


class CallFailed(Exception):
    """The service answered something a phone could not follow."""


class PhoneCall:
    """One call to the line, driven key by key."""

    def __init__(self, line: Line, auth_token: str, caller: str | None = None,
                 called: str = "+32000000001"):
        self.line = line
        self.validator = RequestValidator(auth_token)
        self.params = {
            "CallSid": "CA" + secrets.token_hex(16),
            "AccountSid": "AC" + "0" * 32,
            "From": caller or EXAMPLE_MOBILE,
            "To": called,
            "CallStatus": "in-progress",
            "Direction": "inbound",
        }
        self.screen = Screen()
        self._texts: dict[str, str] | None = None

    def dial(self) -> Screen:
        """Place the call: POST /voice, as Twilio does when the number rings."""
        return self._request(self.line.base_url + "/voice", {})

    def press(self, digits: str | None) -> Screen:
        """Press `digits`, or None to stay silent until the Gather times out."""
        if self.screen.hung_up:
            raise CallFailed("the call has ended")
        if digits:
            if not self.screen.gather_url:
                raise CallFailed("the line is not listening for keys")
            return self._request(self.screen.gather_url, {"Digits": digits})
        if not self.screen.timeout_url:
            raise CallFailed("after silence the line has nowhere to go")
        return self._request(self.screen.timeout_url, {})

    def _request(self, url: str, extra: dict[str, str]) -> Screen:
        params = {**self.params, **extra}
        signature = self.validator.compute_signature(url, params)
        status, body = self.line.post(url, params, signature)
        if status != 200:
            raise CallFailed(f"POST {url} answered {status}")
        self.screen = self._parse(url, body)
        return self.screen

    def _parse(self, url: str, body: str) -> Screen:
        try:
            root = ET.fromstring(body)
        except ET.ParseError as exc:
            raise CallFailed(f"not TwiML: {exc}") from exc
        if root.tag != "Response":
            raise CallFailed(f"TwiML root is <{root.tag}>, not <Response>")
        screen = Screen()
        for verb in root:
            if verb.tag == "Gather":
                screen.gather_url = urljoin(url, verb.get("action", url))
                for inner in verb:
                    self._hear(screen, url, inner)
            elif verb.tag == "Redirect":
                screen.timeout_url = urljoin(url, (verb.text or "").strip())
                break
            elif verb.tag == "Hangup":
                screen.hung_up = True
                break
            else:
                self._hear(screen, url, verb)
        if not (screen.gather_url or screen.timeout_url or screen.hung_up):
            screen.hung_up = True  # Twilio ends a call whose document runs out
        return screen

    def _hear(self, screen: Screen, url: str, verb: ET.Element) -> None:
        if verb.tag == "Say":
            screen.heard.append(Heard((verb.text or "").strip(), None, verb.get("language")))
        elif verb.tag == "Play":
            audio = urljoin(url, (verb.text or "").strip())
            name = urlsplit(audio).path.rsplit("/audio/", 1)[-1]
            screen.heard.append(Heard(self._audio_texts().get(name, "(audio)"), audio))
        elif verb.tag == "Pause":
            screen.heard.append(Heard("(silence)"))

    def _audio_texts(self) -> dict[str, str]:
        if self._texts is None:
            status, body = self.line.get(self.line.base_url + "/audio/manifest.json")
            self._texts = {}
            if status == 200:
                self._texts = texts_by_file(json.loads(body).get("files", {}))
        return self._texts


class Texter:
    """A phone sending SMS to the line: each `send` is one signed POST /sms, like Twilio's."""

    def __init__(self, line: Line, auth_token: str, number: str | None = None):
        self.line = line
        self.validator = RequestValidator(auth_token)
        self.number = number or EXAMPLE_MOBILE

    def send(self, body: str) -> list[str]:
        """The texts the line answers `body` with (none when it stays silent)."""
        url = self.line.base_url + "/sms"
        params = {"MessageSid": "SM" + secrets.token_hex(16), "AccountSid": "AC" + "0" * 32,
                  "From": self.number, "To": "+32000000001", "Body": body, "NumMedia": "0"}
        status, answer = self.line.post(url, params, self.validator.compute_signature(url, params))
        if status != 200:
            raise CallFailed(f"POST {url} answered {status}")
        try:
            root = ET.fromstring(answer)
        except ET.ParseError as exc:
            raise CallFailed(f"not TwiML: {exc}") from exc
        return [(m.text or "") for m in root.iter("Message")]


def transcript(screen: Screen) -> list[str]:
    """Printable lines for one screen."""
    lines = []
    for heard in screen.heard:
        suffix = f"   [plays {heard.audio}]" if heard.audio else ""
        lines.append(f"  \N{SPEAKER WITH THREE SOUND WAVES} {heard.text}{suffix}")
    if screen.hung_up:
        lines.append("  (the line hangs up)")
    return lines
