"""The baseline: a bare Flask route that answers a TwiML document of a given size and does nothing
else (no signature check, no form parsing, no engine). Served by gunicorn with the hotline's own
settings, it is what the webhook figures are divided by.

`POST /twiml/<size>` answers exactly `size` bytes of text/xml. `POST /signed/<size>` does too,
after what every Twilio webhook must do first: read the form and check its signature (the
hotline's own check, with TWILIO_AUTH_TOKEN): the signed baseline `make bench` measures beside
the bare route (`bench.webhooks.floor`), the floor of any webhook.
"""

from __future__ import annotations

import os

from flask import Flask, Response, abort, request

from hotline.twilio.signatures import is_signed_by_twilio

app = Flask(__name__)
app.config["TWILIO_AUTH_TOKEN"] = os.environ.get("TWILIO_AUTH_TOKEN", "")
_HEAD = b'<?xml version="1.0" encoding="UTF-8"?><Response><Say>'
_TAIL = b"</Say></Response>"
_documents: dict[int, bytes] = {}


def document(size: int) -> bytes:
    """A well-formed TwiML document of exactly `size` bytes (at least the bare tags)."""
    found = _documents.get(size)
    if found is None:
        found = _HEAD + b"x" * max(0, size - len(_HEAD) - len(_TAIL)) + _TAIL
        _documents[size] = found
    return found


@app.post("/twiml/<int:size>")
def twiml(size: int) -> Response:
    return Response(document(size), mimetype="text/xml")


@app.post("/signed/<int:size>")
def signed(size: int) -> Response:
    if not is_signed_by_twilio(request, app.config["TWILIO_AUTH_TOKEN"], None):
        abort(403)
    return Response(document(size), mimetype="text/xml")
