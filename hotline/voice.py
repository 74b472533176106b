"""Twilio voice webhooks: Twilio's requests in, engine turns out as TwiML. Nothing else."""

from __future__ import annotations

import logging

import redis
from flask import Blueprint, Response, current_app, request, url_for

from hotline import engine, outbox
from hotline.privacy import is_textable
from hotline.services import Services
from hotline.signatures import twilio_only
from hotline.twiml import position_from, render

bp = Blueprint("voice", __name__, url_prefix="/voice")
log = logging.getLogger(__name__)


def _twiml(services: Services, turn: engine.Turn) -> Response:
    body = render(
        turn, services.content, services.audio,
        lambda name: url_for("audio.file", name=name, _external=False),
    )
    return Response(body, mimetype="text/xml")


@bp.post("")
@twilio_only
def incoming() -> Response:
    """A new call: the language menu."""
    services: Services = current_app.extensions["hotline"]
    return _twiml(services, engine.incoming(services.content))


@bp.post("/step")
@twilio_only
def step() -> Response:
    """A key press (`Digits`) or silence at the position the URL carries."""
    services: Services = current_app.extensions["hotline"]
    at = position_from(request.args)
    digits = request.form.get("Digits")
    caller = request.form.get("From", "")
    can_text = is_textable(caller, services.config["COUNTRIES"])
    turn = engine.respond(services.content, at, digits, can_text)
    if turn.send_sms and not _queue_item_sms(services, turn, caller):
        turn = engine.respond(services.content, at, digits, can_text=False)
    return _twiml(services, turn)


def _queue_item_sms(services: Services, turn: engine.Turn, caller: str) -> bool:
    """Queue the item's SMS (sent once per call and item); False when it cannot be queued."""
    lang = turn.listen.lang if turn.listen else None
    if not lang or not turn.send_sms:
        return False
    key = f"item:{request.form.get('CallSid', '')}:{turn.send_sms}"
    try:
        text = services.sms.languages[lang].texts[turn.send_sms]
        outbox.queue_sms(services, caller, text, key)
    except redis.RedisError:
        log.warning("Redis unreachable: cannot queue the SMS for this call")
        return False
    return True
