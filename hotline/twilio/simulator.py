"""A phone in a terminal: calls and texts the line as Twilio would, with signed requests.

`PhoneCall` follows Gather, Record, Redirect, Play, Say and Hangup as Twilio does: keys typed at a
<Gather> are sent as one `Digits` value, without the finish key, once `numDigits` keys are pressed
or the finish key ends them (the keys after it are typed at the next prompt); the finish key
alone, like silence, goes on to the verb after the <Gather> without asking its action. A
<Record> is simulated: speaking then pressing a finish key (or falling silent) posts the action
with a recording's fields, then the recording status callback; nothing said goes on to the next
verb. `Texter` sends SMS and reads the replies. Both talk to a running service over HTTP
(`HttpLine`) or to an app in the same process (`InProcessLine`), signing every request with the
auth token exactly as Twilio does.
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
    """What one TwiML document does: what is heard, and whether the line waits for keys (a
    <Gather>: its action, numDigits, finishOnKey) or records (a <Record>: its action, finishOnKey,
    recording status callback)."""

    heard: list[Heard] = field(default_factory=list)
    gather_url: str | None = None
    timeout_url: str | None = None
    hung_up: bool = False
    num_digits: int | None = None
    finish_on_key: str = "#"
    record_url: str | None = None
    record_status_url: str | None = None
    record_finish_keys: str = "1234567890*#"
    record_max_seconds: int = 3600


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

    def press(self, keys: str | None) -> Screen:
        """Type `keys` at the prompt, or None to stay silent until it times out. A <Gather>
        receives them as a keypad sends them (see the module's docstring); keys left after it
        is answered are typed at the next prompt."""
        if self.screen.hung_up:
            raise CallFailed("the call has ended")
        if self.screen.record_url:
            return self.record(0, keys[0] if keys else None)
        typed, rest = "", keys or ""
        if rest and not self.screen.gather_url:
            raise CallFailed("the line is not listening for keys")
        while rest:
            key, rest = rest[0], rest[1:]
            if key in self.screen.finish_on_key:
                break
            typed += key
            if self.screen.num_digits and len(typed) >= self.screen.num_digits:
                break
        if not typed:  # silence, or the finish key alone: Twilio goes on after the <Gather>
            if not self.screen.timeout_url:
                raise CallFailed("after silence the line has nowhere to go")
            screen = self._request(self.screen.timeout_url, {})
        else:  # the finish key, numDigits, or the timeout after the last key
            assert self.screen.gather_url
            screen = self._request(self.screen.gather_url, {"Digits": typed})
        return self.press(rest) if rest and not screen.hung_up else screen

    def record(self, seconds: int, key: str | None = "#") -> Screen:
        """At a <Record>: speak for `seconds`, then press `key` (None: fall silent until its
        timeout). With something said, Twilio posts the action with the recording's fields,
        then the recording status callback; with nothing, it goes on to the next verb."""
        screen = self.screen
        if not screen.record_url:
            raise CallFailed("the line is not recording")
        if key is not None and key not in screen.record_finish_keys:
            raise CallFailed(f"{key} does not end this recording")
        if seconds <= 0:
            if not screen.timeout_url:
                raise CallFailed("after an empty recording the line has nowhere to go")
            return self._request(screen.timeout_url, {})
        sid = "RE" + secrets.token_hex(16)
        recording = {
            "RecordingSid": sid,
            "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/"
                            f"{self.params['AccountSid']}/Recordings/{sid}",
            "RecordingDuration": str(min(seconds, screen.record_max_seconds)),
        }
        after = self._request(screen.record_url, {**recording, "Digits": key} if key else recording)
        if screen.record_status_url:
            status = {**recording, "RecordingStatus": "completed", "RecordingChannels": "1",
                      "RecordingSource": "RecordVerb"}
            self._post(screen.record_status_url, status)
        return after

    def _request(self, url: str, extra: dict[str, str]) -> Screen:
        self.screen = self._parse(url, self._post(url, extra))
        return self.screen

    def _post(self, url: str, extra: dict[str, str]) -> str:
        """POST the call's fields and `extra` to `url`, signed; returns the answer's body."""
        params = {**self.params, **extra}
        signature = self.validator.compute_signature(url, params)
        status, body = self.line.post(url, params, signature)
        if status not in (200, 204):
            raise CallFailed(f"POST {url} answered {status}")
        return body

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
                screen.finish_on_key = verb.get("finishOnKey", "#")
                digits = verb.get("numDigits", "")
                screen.num_digits = int(digits) if digits.isdigit() and int(digits) else None
                for inner in verb:
                    self._hear(screen, url, inner)
            elif verb.tag == "Record":
                screen.heard.append(Heard("(beep)") if verb.get("playBeep", "true") == "true"
                                    else Heard("(recording)"))
                screen.record_url = urljoin(url, verb.get("action", url))
                callback = verb.get("recordingStatusCallback")
                screen.record_status_url = urljoin(url, callback) if callback else None
                screen.record_finish_keys = verb.get("finishOnKey", "1234567890*#")
                length = verb.get("maxLength", "")
                screen.record_max_seconds = int(length) if length.isdigit() else 3600
            elif verb.tag == "Redirect":
                screen.timeout_url = urljoin(url, (verb.text or "").strip())
                break
            elif verb.tag == "Hangup":
                screen.hung_up = True
                break
            else:
                self._hear(screen, url, verb)
        if not (screen.gather_url or screen.record_url or screen.timeout_url or screen.hung_up):
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
