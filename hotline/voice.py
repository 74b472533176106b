"""Twilio voice webhooks: Twilio's requests in, engine turns out as TwiML. Nothing else."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request, url_for

from hotline import engine
from hotline.signatures import twilio_only
from hotline.twiml import position_from, render

bp = Blueprint("voice", __name__, url_prefix="/voice")


def _twiml(turn: engine.Turn) -> Response:
    hotline = current_app.extensions["hotline"]
    body = render(
        turn, hotline.content, hotline.audio,
        lambda name: url_for("audio.file", name=name, _external=False),
    )
    return Response(body, mimetype="text/xml")


@bp.post("")
@twilio_only
def incoming() -> Response:
    """A new call: the language menu."""
    return _twiml(engine.incoming(current_app.extensions["hotline"].content))


@bp.post("/step")
@twilio_only
def step() -> Response:
    """A key press (`Digits`) or silence at the position the URL carries."""
    at = position_from(request.args)
    return _twiml(engine.respond(current_app.extensions["hotline"].content, at,
                                 request.form.get("Digits")))
