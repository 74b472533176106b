"""A local HTTP server that answers as Twilio's REST API does, so nothing leaves the machine.

`hotline run` starts one when no TWILIO_ACCOUNT_SID is set, and prints what would have been sent;
the tests run real workers against it. It speaks the 2010-04-01 API's form-encoded requests, HTTP
basic authentication and JSON answers for Messages and Calls, and can fail on purpose. On
request it plays Twilio's part after a call is placed, signed as Twilio signs: it asks the call's
URL for its TwiML (`answer`) and reports how the call ended to its status callback (`report`).
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from collections.abc import Callable
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.error import HTTPError
from urllib.parse import parse_qs, urlencode, urlsplit
from urllib.request import Request, urlopen

from twilio.request_validator import RequestValidator

from hotline.content.segments import cost

API = "/2010-04-01/Accounts/"
# How a request to the service is sent: (url, form, headers) -> (HTTP status, body).
Send = Callable[[str, dict[str, str], dict[str, str]], tuple[int, str]]


class TwilioSandbox:
    """Twilio's Messages and Calls APIs on loopback. `messages` and `calls` record what arrived."""

    def __init__(self, account_sid: str, auth_token: str, port: int = 0,
                 on_create: Callable[[str, dict[str, Any]], None] | None = None):
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.on_create = on_create
        self.messages: list[dict[str, Any]] = []
        self.deleted_recordings: list[str] = []
        self.calls: list[dict[str, Any]] = []
        self.requests = 0
        self.delay_seconds = 0.0  # wait this long before answering a create (after recording it)
        self._failures: list[int] = []
        self._lock = threading.Lock()
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

    def fail_next(self, count: int, status: int = 500) -> None:
        """Answer the next `count` create requests with `status` (500, 503, 429…)."""
        with self._lock:
            self._failures.extend([status] * count)

    def answer(self, sid: str, send: Send | None = None) -> tuple[int, str]:
        """The called person answers call `sid`: Twilio's signed request for its TwiML (POST to
        the call's Url); returns the HTTP status and the TwiML. `send` defaults to HTTP."""
        call = self._call(sid)
        return self._signed(call["url"], self._call_form(call, "in-progress"), send)

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
        return self._signed(call["status_callback"], form, send)

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

    def _create(self, kind: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.requests += 1
            if self._failures:
                status = self._failures.pop(0)
                return status, {"code": 20500 if status >= 500 else 20429, "status": status,
                                "message": "sandbox failure", "more_info": ""}
            prefix = "SM" if kind == "Messages" else "CA"
            resource = _resource(self.account_sid, kind, prefix + secrets.token_hex(16), form)
            (self.messages if kind == "Messages" else self.calls).append(resource)
        if self.on_create:
            self.on_create(kind, resource)
        if self.delay_seconds:
            time.sleep(self.delay_seconds)
        return 201, resource

    def _list(self, kind: str, query: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            found = self.messages if kind == "Messages" else self.calls
            items = [r for r in reversed(found)
                     if all(r[f.lower()] == query[f] for f in ("To", "From") if f in query)]
        uri = f"{API}{self.account_sid}/{kind}.json"
        return {kind.lower(): items, "page": 0, "page_size": 50, "start": 0,
                "end": max(0, len(items) - 1), "uri": uri, "first_page_uri": uri,
                "next_page_uri": None, "previous_page_uri": None}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        sandbox = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet: the caller prints what matters
                pass

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _route(self) -> str | None:
                """The resource kind asked for, after checking the credentials and the path."""
                expected = base64.b64encode(
                    f"{sandbox.account_sid}:{sandbox.auth_token}".encode()).decode()
                if self.headers.get("Authorization") != f"Basic {expected}":
                    self._send(401, {"code": 20003, "message": "Authenticate", "status": 401,
                                     "more_info": "https://www.twilio.com/docs/errors/20003"})
                    return None
                path = self.path.split("?")[0]
                kind = path.rsplit("/", 1)[-1].removesuffix(".json")
                account = path[len(API):].split("/", 1)[0] if path.startswith(API) else ""
                if account != sandbox.account_sid or kind not in ("Messages", "Calls"):
                    self._send(404, {"code": 20404, "message": "not found", "status": 404,
                                     "more_info": ""})
                    return None
                return kind

            def do_DELETE(self) -> None:
                path = self.path.split("?")[0]
                parts = path.removesuffix(".json").split("/")
                expected = base64.b64encode(
                    f"{sandbox.account_sid}:{sandbox.auth_token}".encode()).decode()
                if (self.headers.get("Authorization") != f"Basic {expected}"
                        or len(parts) < 2 or parts[-2] != "Recordings"):
                    self._send(404, {"code": 20404, "message": "not found", "status": 404,
                                     "more_info": ""})
                    return
                with sandbox._lock:
                    sandbox.deleted_recordings.append(parts[-1])
                self.send_response(204)
                self.end_headers()

            def do_GET(self) -> None:
                kind = self._route()
                if kind:
                    query = {k: v[-1] for k, v in parse_qs(urlsplit(self.path).query).items()}
                    self._send(200, sandbox._list(kind, query))

            def do_POST(self) -> None:
                kind = self._route()
                if kind is None:
                    return
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[-1] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                missing = [f for f in ("To", "From") if not form.get(f)]
                if kind == "Messages" and not form.get("Body"):
                    missing.append("Body")
                if kind == "Calls" and not (form.get("Url") or form.get("Twiml")):
                    missing.append("Url")
                if missing:
                    self._send(400, {"code": 21604, "status": 400, "more_info": "",
                                     "message": f"A '{missing[0]}' parameter is required."})
                    return
                self._send(*sandbox._create(kind, form))

        return Handler


def _post(url: str, form: dict[str, str], headers: dict[str, str]) -> tuple[int, str]:
    request = Request(url, data=urlencode(form).encode(), headers=headers, method="POST")
    try:
        with urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except HTTPError as exc:
        return exc.code, exc.read().decode()


def _resource(account: str, kind: str, sid: str, form: dict[str, str]) -> dict[str, Any]:
    now = formatdate(usegmt=True)
    common = {
        "sid": sid, "account_sid": account, "to": form["To"], "from": form["From"],
        "date_created": now, "date_updated": now, "api_version": "2010-04-01",
        "uri": f"{API}{account}/{kind}/{sid}.json", "price": None, "price_unit": "USD",
    }
    if kind == "Messages":
        return {**common, "body": form["Body"], "status": "queued", "direction": "outbound-api",
                "num_segments": str(cost(form["Body"]).segments), "num_media": "0",
                "error_code": None, "error_message": None, "date_sent": None,
                "messaging_service_sid": None, "subresource_uris": {}}
    return {**common, "status": "queued", "direction": "outbound-api", "url": form.get("Url"),
            "status_callback": form.get("StatusCallback"), "caller_id": form["From"],
            "parent_call_sid": None, "duration": None, "start_time": None, "end_time": None,
            "answered_by": None, "forwarded_from": None, "group_sid": None,
            "phone_number_sid": None, "queue_time": "0", "subresource_uris": {}}
