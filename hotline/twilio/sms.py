"""Twilio SMS webhook: an incoming message in, the engine's reply out as TwiML.

Redis holds the conversation; when Redis is down the texter still gets an answer from the files
(as a first contact would), and nothing is remembered but callback requests and STOP, START and
FORGET, which wait in the spool until Redis is back.
"""

from __future__ import annotations

import logging

import redis
from flask import Blueprint, Response, abort, current_app, request
from twilio.twiml.messaging_response import MessagingResponse

from hotline.callbacks import outbox
from hotline.callbacks.requests import (
    open_request,
    over_request_limit,
    replay_spool,
    spool_sms_command,
)
from hotline.console import mediator_sms
from hotline.content.segments import cost
from hotline.engine import sms as sms_engine
from hotline.engine.callback import callable_number
from hotline.services import Services, kept
from hotline.state import sms as sms_state
from hotline.state.erasure import forget
from hotline.state.events import events
from hotline.state.privacy import redact, textable_number
from hotline.twilio.signatures import twilio_only

bp = Blueprint("sms", __name__, url_prefix="/sms")
log = logging.getLogger(__name__)


def _twiml(text: str | None, shared: bool = False) -> str:
    """The answer as TwiML; its <Message> asks Twilio for the delivery status (`action`).
    `shared`: a text the same for every texter (a keyword's answer), made once."""
    if not text:
        return str(MessagingResponse())
    services: Services = current_app.extensions["hotline"]
    url = outbox.status_callback_url(services, "reply")

    def make() -> str:
        response = MessagingResponse()
        response.message(text, **({"action": url, "method": "POST"} if url else {}))
        return str(response)

    return kept(services.rendered, ("sms", text, url), make) if shared else make()


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
        elif reply.callback == "forget" or reply.opted_out is not None:
            spool_sms_command(services, number, reply)  # applied when Redis is back
            if reply.callback == "forget":
                lang = reply.answer_lang or next(iter(services.sms.languages))
                text = services.sms.text(lang, "forget_confirm")
        elif reply.callback:
            text = services.sms.text(reply.answer_lang or "en", "cb_failed")
        return Response(_twiml(text), mimetype="text/xml")


@bp.post("/status")
@twilio_only
def status() -> Response:
    """Twilio's status callback for an SMS we sent (`MessageSid`, `MessageStatus`, `ErrorCode`,
    `To`; `key` in the URL): an undelivered one is noted on its ticket and counted."""
    services: Services = current_app.extensions["hotline"]
    sid, state = request.form.get("MessageSid", ""), request.form.get("MessageStatus", "")
    if not sid or not state:
        abort(400)
    if state in ("undelivered", "failed"):
        code = request.form.get("ErrorCode", "")
        error = int(code) if code.isascii() and code.isdigit() and len(code) < 9 else None
        outbox.record_undelivered(services, request.args.get("key", "")[:200], sid[:64],
                                  request.form.get("To", ""), error)
    return Response("", status=204)


def _answer(services: Services, number: str, sid: str, body: str) -> str:
    """The answer; one round trip to Redis before the engine in the common case, its writes
    deferred (hotline/state/sms.py)."""
    r = services.redis
    if services.spool.pending():  # what was texted during an outage first (a STOP, a FORGET)
        replay_spool(services)
    textable = textable_number(number, services.settings.countries)  # parsed once for both
    n = services.privacy.number_key(textable or number, e164=textable is not None)
    cap_key, cap = outbox.cap_key("sms"), services.settings.sms_daily_cap
    incoming = sms_state.begin(r, n, sid, cap_key, services.deferred)
    if incoming.earlier is not None:  # Twilio retried this message: same answer, no second effect
        if incoming.earlier in ("", sms_state.SILENT):
            return _twiml(None)
        return services.privacy.decrypt(incoming.earlier)
    mediator = services.mediators.by_phone(number) if incoming.mediator else None
    if mediator is not None:
        twiml = _twiml(mediator_sms.answer(services, mediator, body))
        sms_state.remember_answer(r, sid, services.privacy.encrypt(twiml))
        return twiml
    if textable is None:
        # Foreign, premium-rate, short codes, alphanumeric senders: an answer would cost the CSO
        # and reach no one we serve (issue 14, item 6).
        log.info("no SMS answer to %s: not a mobile number of an allowed country", redact(number))
        sms_state.remember_answer(r, sid, sms_state.SILENT)
        return _twiml(None)
    reply = _reply(services, incoming.conversation, body)
    counted = bool(reply.text or reply.callback)
    over = counted and incoming.replies_this_hour + 1 > services.settings.sms_replies_per_hour
    # STOP, START and FORGET count like any reply, but always take effect and are confirmed.
    about = reply.about or "none"
    if over and reply.opted_out is None and reply.callback != "forget":
        log.warning("reply limit reached for %s: not answering", redact(number))
        reply, about = sms_engine.Reply(None), "limited"
    lang = reply.answer_lang or reply.lang or incoming.conversation.lang or ""
    text, shared = reply.text, not reply.callback
    if reply.callback:  # the state first: FORGET then erases it, counter included
        sms_state.finish(r, n, sid, reply, count_reply=counted)
        text = _callback(services, number, reply)
        reply, counted = sms_engine.Reply(None), False
    if not text:
        sms_state.finish(r, n, sid, reply, count_reply=counted, answer=sms_state.SILENT,
                         tally=services.events.tally(*events("sms", lang, about)),
                         deferred=services.deferred)
        return _twiml(None)
    twiml = _twiml(text, shared)
    if incoming.sent_today + 1 > cap:  # today's SMS cap is reached: the admins are alerted
        sms_state.finish(r, n, sid, reply, count_reply=counted, cap_key=cap_key,
                         answer=sms_state.SILENT,
                         tally=services.events.tally(*events("sms", lang, "capped")),
                         deferred=services.deferred)
        outbox.cap_reached(services, "sms", cap)
        return _twiml(None)
    # Answered: counted against the cap in the background. Answers of the last fraction of a
    # second, their counts still on the way (hotline.state.deferred), may pass the cap by that
    # many: a cap is a budget alarm, not an exact quota.
    sent = services.events.tally(*events("sms", lang, about),
                                 *events("sms_segments", lang, count=cost(text).segments))
    sms_state.finish(r, n, sid, reply, count_reply=counted, cap_key=cap_key,
                     answer=services.privacy.encrypt(twiml), tally=sent,
                     deferred=services.deferred)
    return twiml


def _reply(services: Services, conversation: sms_engine.Conversation,
           body: str) -> sms_engine.Reply:
    """The engine's reply. A lone keyword's (most first messages) is worked out once per
    spelling and conversation state: the engine is pure, and a keyword is the content's own
    word; any other message is never kept."""
    def make() -> sms_engine.Reply:
        return sms_engine.reply(services.sms, conversation, body)

    if not services.sms.keywords.is_keyword(body):
        return make()
    return kept(services.keyword_replies, (body, conversation), make)


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

