"""Twilio SMS webhook: an incoming message in, the engine's reply out as TwiML.

Redis holds the conversation; when Redis is down the texter still gets an answer from the files
(as a first contact would), and nothing is remembered.
"""

from __future__ import annotations

import logging

import redis
from flask import Blueprint, Response, abort, current_app, request
from twilio.twiml.messaging_response import MessagingResponse

from hotline.callbacks import outbox
from hotline.callbacks.requests import open_request, over_request_limit
from hotline.console import mediator_sms
from hotline.content.segments import cost
from hotline.engine import sms as sms_engine
from hotline.engine.callback import callable_number
from hotline.services import Services
from hotline.state import sms as sms_state
from hotline.state.erasure import forget
from hotline.state.events import events
from hotline.state.privacy import is_textable, redact
from hotline.twilio.signatures import twilio_only

bp = Blueprint("sms", __name__, url_prefix="/sms")
log = logging.getLogger(__name__)


def _twiml(text: str | None) -> str:
    response = MessagingResponse()
    if text:
        response.message(text)
    return str(response)


@bp.post("")
@twilio_only
def incoming() -> Response:
    """Answer one incoming SMS (`From`, `Body`, `MessageSid`)."""
    services: Services = current_app.extensions["hotline"]
    number, sid = request.form.get("From", ""), request.form.get("MessageSid", "")
    if not number or not sid:
        abort(400)
    body = request.form.get("Body", "")[:2000]
    try:
        return Response(_answer(services, number, sid, body), mimetype="text/xml")
    except redis.RedisError:
        log.warning("Redis unreachable: answering %s from the files only", redact(number))
        reply = sms_engine.reply(services.sms, sms_engine.Conversation(), body)
        text = reply.text
        if reply.callback == "open":  # kept in the spool until Redis is back
            text = _callback(services, number, reply)
        elif reply.callback:
            text = services.sms.text(reply.answer_lang or "en", "cb_failed")
        return Response(_twiml(text), mimetype="text/xml")


def _answer(services: Services, number: str, sid: str, body: str) -> str:
    r = services.redis
    earlier = sms_state.claim_message(r, sid)
    if earlier is not None:  # Twilio retried this message: same answer, no second effect
        return services.privacy.decrypt(earlier) if earlier else _twiml(None)
    n = services.privacy.number_key(number)
    mediator = services.mediators.by_phone(number)
    if mediator is not None:
        twiml = _twiml(mediator_sms.answer(services, mediator, body))
        sms_state.remember_answer(r, sid, services.privacy.encrypt(twiml))
        return twiml
    if not is_textable(number, services.settings.countries):
        # Foreign, premium-rate, short codes, alphanumeric senders: an answer would cost the CSO
        # and reach no one we serve (issue 14, item 6).
        log.info("no SMS answer to %s: not a mobile number of an allowed country", redact(number))
        sms_state.remember_answer(r, sid, services.privacy.encrypt(_twiml(None)))
        return _twiml(None)
    conversation = sms_state.load(r, n)
    reply = sms_engine.reply(services.sms, conversation, body)
    over = bool(reply.text or reply.callback) and sms_state.over_rate(
        r, n, services.settings.sms_replies_per_hour)
    # STOP, START and FORGET count like any reply, but always take effect and are confirmed.
    about = reply.about or "none"
    if over and reply.opted_out is None and reply.callback != "forget":
        log.warning("reply limit reached for %s: not answering", redact(number))
        reply, about = sms_engine.Reply(None), "limited"
    else:
        sms_state.save(r, n, reply)
    lang = reply.answer_lang or reply.lang or conversation.lang or ""
    text = _callback(services, number, reply) if reply.callback else reply.text
    if text and not outbox.count_reply(services):
        text, about = None, "capped"  # today's SMS cap is reached: the admins are alerted
    twiml = _twiml(text)
    sms_state.remember_answer(r, sid, services.privacy.encrypt(twiml))
    counted = events("sms", lang, about)
    if text:
        counted += events("sms_segments", lang, count=cost(text).segments)
    services.events.add(*counted)
    return twiml


def _callback(services: Services, number: str, reply: sms_engine.Reply) -> str:
    """Open or cancel the texter's callback request; the answer in their language."""
    lang = reply.answer_lang or next(iter(services.sms.languages))
    if reply.callback == "forget":
        forget(services, number)
        return services.sms.text(lang, "forget_confirm")
    if reply.callback == "open":
        if callable_number(number, services.settings.countries) is None:
            log.warning("callback refused: %s is not a number we call back", redact(number))
            return services.sms.text(lang, "cb_failed")
        if over_request_limit(services, number):
            log.warning("callback request limit reached for %s", redact(number))
            return services.sms.text(lang, "cb_failed")
        ref, joined = open_request(services, number, lang, reply.topic, reply.note,
                                   confirm_by_sms=False)
        return services.sms.text(lang, "cb_joined" if joined else "cb_created", ref=ref)
    ticket = services.callbacks.open_ticket_of(services.privacy.number_key(number))
    if ticket is None:
        return services.sms.text(lang, "cb_none")
    services.callbacks.close(ticket.ref, "cancelled")
    return services.sms.text(lang, "cb_cancelled", ref=ticket.ref)

