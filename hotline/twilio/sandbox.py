"""A local HTTP server that answers as Twilio's REST API does, so nothing leaves the machine.

`hotline run` starts one when no TWILIO_ACCOUNT_SID is set, and prints what would have been sent;
the tests run real workers against it. It speaks the 2010-04-01 API's form-encoded requests, HTTP
basic authentication and JSON answers for Messages, Calls and Recordings, and can fail on purpose.

Where the project depends on it, it behaves as Twilio's OpenAPI description (twilio-oai) and
error codes say: the Message and Call it answers have exactly the spec's fields; a `To` that is not
a valid E.164 number is refused with 21211, a body over 1,600 characters with 21617, a relative
`Url` with 21205, a relative `StatusCallback` with 21609, an unknown `StatusCallbackEvent` with
21626; an unknown recording is 404 (20404). Repeated form fields (StatusCallbackEvent) are kept
(`fields`). `num_segments` is computed here as Twilio's segment calculator does it, not by the
project's own counter, so that tests compare two implementations. A message with a
`StatusCallback` gets its status callbacks (sent, then delivered, or undelivered with the error
code planned by `deliver_as`), signed with the auth token as Twilio signs them.
On request it plays Twilio's part after a call is placed, signed as Twilio signs: it asks the
call's URL for its TwiML (`answer`) and reports how the call ended to its status callback
(`report`).
"""

from __future__ import annotations

import base64
import contextlib
import json
import secrets
import threading
import time
from collections.abc import Callable
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import phonenumbers
import regex
import requests
from twilio.request_validator import RequestValidator

API = "/2010-04-01/Accounts/"
MAX_BODY_CHARACTERS = 1600
CALL_EVENTS = frozenset({"initiated", "ringing", "answered", "completed"})
# (url, form fields, headers) -> HTTP status: how a status callback reaches the service
Transport = Callable[[str, dict[str, str], dict[str, str]], int]
# How a request to the service is sent: (url, form, headers) -> (HTTP status, body).
Send = Callable[[str, dict[str, str], dict[str, str]], tuple[int, str]]


class TwilioSandbox:
    """Twilio's Messages, Calls and Recordings APIs on loopback. `messages` and `calls` hold what
    was created (as the API answered it), `fields` each create request's form by SID."""

    def __init__(self, account_sid: str, auth_token: str, port: int = 0,
                 on_create: Callable[[str, dict[str, Any]], None] | None = None):
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.on_create = on_create
        self.messages: list[dict[str, Any]] = []
        self.calls: list[dict[str, Any]] = []
        self.fields: dict[str, dict[str, list[str]]] = {}
        self.recordings: set[str] = set()
        self.deleted_recordings: list[str] = []
        self.recording_media: dict[str, bytes] = {}  # SID -> WAV, served until deleted
        self.status_callbacks: list[tuple[str, dict[str, str]]] = []  # (url, fields) as sent
        self.transport: Transport = _http_post
        self.requests = 0
        self.delay_seconds = 0.0  # wait this long before answering a create (after recording it)
        self._failures: list[int] = []
        self._outcomes: dict[str, tuple[str, int | None]] = {}
        self._pending = 0
        self._lock = threading.Lock()
        self._settled = threading.Condition(self._lock)
        self._transport_lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> str:
        """Serve in a background thread; returns the base URL to use as TWILIO_API_BASE_URL."""
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def reset(self) -> None:
        """Nothing received, no recording, no failure or outcome planned, no delay; status
        callbacks over HTTP again."""
        self.settle()
        with self._lock:
            self.messages.clear()
            self.calls.clear()
            self.fields.clear()
            self.recordings.clear()
            self.recording_media.clear()
            self.deleted_recordings.clear()
            self.status_callbacks.clear()
            self._failures.clear()
            self._outcomes.clear()
            self.requests = 0
        self.delay_seconds = 0.0
        self.transport = _http_post

    def add_recording_media(self, wav: bytes) -> tuple[str, str]:
        """A recording made on a call holding `wav` (as `add_recording`): its SID and its URL
        (Twilio's RecordingUrl; the media is served at the URL + ".wav" until deleted)."""
        url = self.add_recording()
        sid = url.rsplit("/", 1)[-1]
        with self._lock:
            self.recording_media[sid] = wav
        return sid, url

    def fail_next(self, count: int, status: int = 500) -> None:
        """Answer the next `count` create requests with `status` (500, 503, 429…)."""
        with self._lock:
            self._failures.extend([status] * count)

    def answer(self, sid: str, send: Send | None = None) -> tuple[int, str]:
        """The called person answers call `sid`: Twilio's signed request for its TwiML (POST to
        the call's Url); returns the HTTP status and the TwiML. `send` defaults to HTTP."""
        call = self._call(sid)
        return self._signed(self.field(sid, "Url") or "",
                            self._call_form(call, "in-progress"), send)

    def report(self, sid: str, status: str, duration: int = 0,
               send: Send | None = None) -> tuple[int, str]:
        """Call `sid` ended with `status` (completed, busy, no-answer, failed, canceled): Twilio's
        signed status callback for it, the "completed" event; returns the HTTP status and body."""
        call = self._call(sid)
        with self._lock:
            call["status"] = status
            call["duration"] = str(duration) if status == "completed" else "0"
        form = {**self._call_form(call, status), "CallbackSource": "call-progress-events",
                "SequenceNumber": "3", "Timestamp": formatdate(usegmt=True)}
        if status == "completed":
            form.update(CallDuration=str(duration), Duration=str(max(1, -(-duration // 60))))
        return self._signed(self.field(sid, "StatusCallback") or "", form, send)

    def _call(self, sid: str) -> dict[str, Any]:
        with self._lock:
            return next(c for c in self.calls if c["sid"] == sid)

    def _call_form(self, call: dict[str, Any], status: str) -> dict[str, str]:
        return {"AccountSid": self.account_sid, "ApiVersion": "2010-04-01", "CallSid": call["sid"],
                "CallStatus": status, "Direction": "outbound-api", "From": call["from"],
                "To": call["to"], "Caller": call["from"], "Called": call["to"]}

    def _signed(self, url: str, form: dict[str, str], send: Send | None) -> tuple[int, str]:
        """POST `form` to `url` with X-Twilio-Signature, as Twilio signs its webhooks."""
        headers = {"X-Twilio-Signature": RequestValidator(self.auth_token).compute_signature(
            url, form)}
        return (send or _post)(url, form, headers)

    def deliver_as(self, to: str, status: str, error_code: int | None = None) -> None:
        """Plan how messages to `to` end: "delivered" (the default), or "undelivered" / "failed"
        with a Twilio error code (30003 unreachable, 30005 unknown, 30006 landline…)."""
        with self._lock:
            self._outcomes[to] = (status, error_code)

    def add_recording(self, sid: str | None = None) -> str:
        """A recording made on a call (as <Record> makes one); returns its URL."""
        sid = sid or "RE" + secrets.token_hex(16)
        with self._lock:
            self.recordings.add(sid)
        return f"{self.base_url}{API}{self.account_sid}/Recordings/{sid}"

    def field(self, sid: str, name: str) -> str | None:
        """The (last) value of form field `name` in the request that created `sid`."""
        values = self.fields.get(sid, {}).get(name)
        return values[-1] if values else None

    def settle(self, timeout: float = 10.0) -> None:
        """Wait until every status callback due has been sent."""
        with self._settled:
            self._settled.wait_for(lambda: self._pending == 0, timeout)

    def _create(self, kind: str, form: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.requests += 1
            if self._failures:
                status = self._failures.pop(0)
                return status, _error(status, 20500 if status >= 500 else 20429,
                                      "sandbox failure")
            prefix = "SM" if kind == "Messages" else "CA"
            resource = _resource(self.account_sid, kind, prefix + secrets.token_hex(16),
                                 {k: v[-1] for k, v in form.items()})
            (self.messages if kind == "Messages" else self.calls).append(resource)
            self.fields[resource["sid"]] = form
            if kind == "Messages" and form.get("StatusCallback"):
                self._pending += 1
        if self.on_create:
            self.on_create(kind, resource)
        if self.delay_seconds:
            time.sleep(self.delay_seconds)
        return 201, resource

    def _send_status_callbacks(self, message: dict[str, Any], url: str) -> None:
        """As Twilio does once the carrier answers: "sent", then how the message ended."""
        try:
            with self._lock:
                final, code = self._outcomes.get(message["to"], ("delivered", None))
            for status in ("sent", final):
                fields = {"AccountSid": self.account_sid, "ApiVersion": "2010-04-01",
                          "MessageSid": message["sid"], "SmsSid": message["sid"],
                          "MessageStatus": status, "SmsStatus": status,
                          "From": message["from"], "To": message["to"]}
                if code is not None and status == final:
                    fields["ErrorCode"] = str(code)
                signature = RequestValidator(self.auth_token).compute_signature(url, fields)
                # Twilio does not retry a status callback that cannot be sent
                with self._transport_lock, contextlib.suppress(requests.RequestException):
                    self.transport(url, fields, {"X-Twilio-Signature": signature})
                with self._lock:
                    self.status_callbacks.append((url, fields))
        finally:
            with self._settled:
                self._pending -= 1
                self._settled.notify_all()

    def _list(self, kind: str, query: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            found = self.messages if kind == "Messages" else self.calls
            items = [r for r in reversed(found)
                     if all(r[f.lower()] == query[f] for f in ("To", "From") if f in query)]
        uri = f"{API}{self.account_sid}/{kind}.json"
        return {kind.lower(): items, "page": 0, "page_size": 50, "start": 0,
                "end": max(0, len(items) - 1), "uri": uri, "first_page_uri": uri,
                "next_page_uri": None, "previous_page_uri": None}

    def _delete_recording(self, path: str) -> tuple[int, dict[str, Any] | None]:
        parts = path.removesuffix(".json").split("/")
        sid = parts[-1] if len(parts) > 2 and parts[-2] == "Recordings" else ""
        with self._lock:
            if sid not in self.recordings:
                return 404, _error(404, 20404, f"The requested resource {path} was not found")
            self.recordings.discard(sid)
            self.recording_media.pop(sid, None)
            self.deleted_recordings.append(sid)
        return 204, None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        sandbox = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet: the caller prints what matters
                pass

            def _send(self, status: int, body: dict[str, Any] | None) -> None:
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                if body is not None:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _account_path(self) -> str | None:
                """The path below the account, after checking the credentials and the account."""
                expected = base64.b64encode(
                    f"{sandbox.account_sid}:{sandbox.auth_token}".encode()).decode()
                if self.headers.get("Authorization") != f"Basic {expected}":
                    self._send(401, _error(401, 20003, "Authenticate"))
                    return None
                path = self.path.split("?")[0]
                prefix = f"{API}{sandbox.account_sid}/"
                if not path.startswith(prefix):
                    self._send(404, _error(404, 20404, f"The requested resource {path} was not "
                                                       "found"))
                    return None
                return path[len(prefix):]

            def _route(self) -> str | None:
                """The resource kind asked for: Messages or Calls."""
                below = self._account_path()
                if below is None:
                    return None
                if below not in ("Messages.json", "Calls.json"):
                    self._send(404, _error(404, 20404, f"The requested resource {self.path} was "
                                                       "not found"))
                    return None
                return below.removesuffix(".json")

            def _media(self, name: str) -> None:
                """A recording's media as WAV (with the account's credentials, as Twilio
                does when a recording's media needs authentication)."""
                expected = base64.b64encode(
                    f"{sandbox.account_sid}:{sandbox.auth_token}".encode()).decode()
                with sandbox._lock:
                    data = sandbox.recording_media.get(name.removesuffix(".wav"))
                if self.headers.get("Authorization") != f"Basic {expected}":
                    self._send(401, _error(401, 20003, "Authenticate"))
                elif data is None or not name.endswith(".wav"):
                    self._send(404, _error(404, 20404, f"The requested resource {self.path} "
                                                       "was not found"))
                else:
                    self.send_response(200)
                    self.send_header("Content-Type", "audio/x-wav")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)

            def do_DELETE(self) -> None:
                below = self._account_path()
                if below is not None:
                    self._send(*sandbox._delete_recording(self.path.split("?")[0]))

            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                if path.startswith(f"{API}{sandbox.account_sid}/Recordings/"):
                    self._media(path.rsplit("/", 1)[-1])
                    return
                kind = self._route()
                if kind:
                    query = {k: v[-1] for k, v in parse_qs(urlsplit(self.path).query).items()}
                    self._send(200, sandbox._list(kind, query))

            def do_POST(self) -> None:
                kind = self._route()
                if kind is None:
                    return
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode(), keep_blank_values=True)
                refused = _refusal(kind, form)
                if refused:
                    self._send(400, _error(400, *refused))
                    return
                status, resource = sandbox._create(kind, form)
                self._send(status, resource)
                if status == 201 and kind == "Messages" and form.get("StatusCallback"):
                    sandbox._send_status_callbacks(resource, form["StatusCallback"][-1])

        return Handler


def _post(url: str, form: dict[str, str], headers: dict[str, str]) -> tuple[int, str]:
    response = requests.post(url, data=form, headers=headers, timeout=10)
    return response.status_code, response.text


def _http_post(url: str, fields: dict[str, str], headers: dict[str, str]) -> int:
    return _post(url, fields, headers)[0]


def _error(status: int, code: int, message: str) -> dict[str, Any]:
    return {"code": code, "message": message, "status": status,
            "more_info": f"https://www.twilio.com/docs/errors/{code}"}


def _is_absolute(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _refusal(kind: str, form: dict[str, list[str]]) -> tuple[int, str] | None:
    """Twilio's (error code, message) for a create request it refuses, or None."""
    value = {k: v[-1] for k, v in form.items()}
    to = value.get("To", "")
    if not to:
        return 21604, "A 'To' phone number is required."
    if not _is_e164(to):
        return 21211, f"Invalid 'To' Phone Number: {to}"  # Twilio's message quotes the number
    if not value.get("From"):
        return 21603, "A 'From' phone number is required."
    if value.get("StatusCallback") is not None and not _is_absolute(value["StatusCallback"]):
        return 21609, "The StatusCallback URL is not a valid URL."
    if kind == "Messages":
        if not value.get("Body"):
            return 21602, "Message body is required."
        if len(value["Body"]) > MAX_BODY_CHARACTERS:
            return 21617, "The concatenated message body exceeds the 1600 character limit."
        return None
    if not (value.get("Url") or value.get("Twiml")):
        return 21205, "Url parameter is required."
    if value.get("Url") and not _is_absolute(value["Url"]):
        return 21205, f"Url is not a valid URL: {value['Url']}"
    if not set(form.get("StatusCallbackEvent", [])) <= CALL_EVENTS:
        return 21626, "One or more of the StatusCallbackEvents provided were invalid."
    return None


def _is_e164(number: str) -> bool:
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return False
    return number.startswith("+") and phonenumbers.is_valid_number(parsed)


def _national(number: str) -> str:
    return phonenumbers.format_number(phonenumbers.parse(number, None),
                                      phonenumbers.PhoneNumberFormat.NATIONAL)


def _resource(account: str, kind: str, sid: str, form: dict[str, str]) -> dict[str, Any]:
    """The Message or Call as the API answers a create: the spec's fields, no other."""
    now = formatdate(usegmt=True).replace("GMT", "+0000")
    uri = f"{API}{account}/{kind}/{sid}"
    common = {
        "sid": sid, "account_sid": account, "to": form["To"], "from": form["From"],
        "date_created": now, "date_updated": now, "api_version": "2010-04-01",
        "uri": f"{uri}.json", "price": None, "price_unit": "USD", "status": "queued",
        "direction": "outbound-api",
    }
    if kind == "Messages":
        return {**common, "body": form["Body"], "num_segments": str(num_segments(form["Body"])),
                "num_media": "0", "error_code": None, "error_message": None, "date_sent": None,
                "messaging_service_sid": None, "subresource_uris": {"media": f"{uri}/Media.json"}}
    return {**common, "to_formatted": _national(form["To"]), "from_formatted": form["From"],
            "caller_name": None, "parent_call_sid": None, "phone_number_sid": None,
            "duration": None, "start_time": None, "end_time": None, "answered_by": None,
            "forwarded_from": None, "group_sid": None, "trunk_sid": None, "queue_time": "0",
            "subresource_uris": {name: f"{uri}/{name.title()}.json"
                                 for name in ("notifications", "recordings", "events")}}


# GSM 03.38: the default alphabet in code order (0x1B is the escape to the extension table),
# and the extension table's characters, each sent as escape + code.
_GSM_DEFAULT = ("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
                "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
_GSM_EXTENSION = "\f^{}\\[~]|€"
_SEGMENT_BITS, _HEADER_BITS = 1120, 48  # 140 octets; a split message's 6-octet header


def num_segments(body: str) -> int:
    """Segments as Twilio's segment calculator counts them: the body's grapheme clusters (CR LF
    as two) in bits, GSM-7 when each is one GSM character (7 bits, 14 for the extension), else
    UCS-2 (16 bits a UTF-16 unit); 1,120 bits fit one segment, and once split each segment
    loses 48 to its header and a cluster that does not fit starts the next."""
    clusters = [c for g in regex.findall(r"\X", body) for c in ([*g] if g == "\r\n" else [g])]
    if all(len(c) == 1 and c != "\x1b" and (c in _GSM_DEFAULT or c in _GSM_EXTENSION)
           for c in clusters):
        bits = [14 if c in _GSM_EXTENSION else 7 for c in clusters]
    else:
        bits = [8 * len(c.encode("utf-16-be")) for c in clusters]
    if sum(bits) <= _SEGMENT_BITS:
        return 1
    segments, free = 1, _SEGMENT_BITS - _HEADER_BITS
    for size in bits:
        if size > free:
            segments, free = segments + 1, _SEGMENT_BITS - _HEADER_BITS
        free -= size
    return segments
