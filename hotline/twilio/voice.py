"""Twilio voice webhooks: Twilio's requests in, engine turns out as TwiML, effects carried out.

A callback number typed during a call travels, encrypted, in the next URLs (`carry`), so the line
needs no Redis until the ticket is opened. Keys: `once:<name>` marks a recording or status callback
already recorded, 1 day. Each request counts its anonymous events and the call's position in one
script (hotline.state.events): a menu step's is deferred (no round trip while the caller waits),
an incoming call's reads the remembered language in its round trip; the call's status callback
counts where it ended.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
from dataclasses import replace
from functools import cached_property
from typing import cast

import redis
from flask import Blueprint, Response, abort, current_app, request, url_for
from twilio.twiml.voice_response import Dial, VoiceResponse

from hotline.callbacks import missed, outbox
from hotline.callbacks.hours import spoken_time
from hotline.callbacks.requests import open_request, over_request_limit
from hotline.content.budget import WORDS_PER_SECOND, words
from hotline.content.ivr import LANGUAGE_MENUS, Content
from hotline.engine import callback as callback_flow
from hotline.engine import voice as engine
from hotline.engine.recording import ENTRY_CODE
from hotline.engine.turns import Caller, spoken_digits
from hotline.services import Services, kept
from hotline.state import sms as sms_state
from hotline.state.events import Event, events
from hotline.state.privacy import InvalidToken, is_textable, normalize_number, redact
from hotline.twilio import prompt_recording
from hotline.twilio.signatures import site_url, twilio_only
from hotline.twilio.twiml import position_from, render

bp = Blueprint("voice", __name__, url_prefix="/voice")
log = logging.getLogger(__name__)
RENDER_SECONDS = 10
EVENTS_PAUSE_SECONDS = 30  # after Redis failed to count a step, the next steps do not try
FINAL_STATUSES = ("completed", "busy", "no-answer", "failed", "canceled")


def _services() -> Services:
    return current_app.extensions["hotline"]


def _twiml(services: Services, turn: engine.Turn) -> Response:
    """The turn as TwiML. The menus' documents are the same for every caller, so each is rendered
    once per audio build and RENDER_SECONDS (a removed recording stops playing after at most
    that); callback steps, which speak a caller's number or reference, are never kept."""
    personal = turn.personal
    # <Play> takes absolute URLs (Twilio documents no other): PUBLIC_BASE_URL's, else this host's.
    base = site_url(request, services.settings.public_base_url)

    def make() -> str:
        return render(turn, services.content, services.audio,
                      lambda name: base + url_for("audio.file", name=name))

    key = (turn, base, services.audio.version(), int(time.monotonic() // RENDER_SECONDS))
    return Response(make() if personal else kept(services.rendered, key, make),
                    mimetype="text/xml")


def _xml(response: VoiceResponse) -> Response:
    return Response(str(response), mimetype="text/xml")


@bp.post("")
@twilio_only
def incoming() -> Response:
    """A new call: the welcome in the caller's remembered language, else the language menu; on a
    missed-call number, a rejection (unanswered: free for the caller) and a callback planned.
    A callback the line places starts here too: its person is the one called."""
    services = _services()
    if _rings_missed_line(services):
        return _missed_call(services)
    caller = _person()
    request_caller = _RequestCaller(services)
    hint = services.content.hinted_languages(caller if caller.startswith("+") else None)
    as_caller = cast(Caller, request_caller)
    turn = engine.incoming(services.content, None, as_caller, hint)  # no language remembered
    recall, caller_id = None, request_caller.caller_id
    if caller_id and len(request_caller.offered) > 1:
        # the remembered language is read in the round trip that counts the call; the caller ID
        # is the E.164 form of a number given with its "+": its key without parsing it again
        key = (services.privacy.number_key(caller_id, e164=True) if caller.startswith("+")
               else services.privacy.number_key(caller))
        recall = (sms_state.language_key(key),
                  request_caller.offered, services.content.start)
    remembered = _count(services, None, turn, [*events("call")], recall=recall)
    if remembered:
        turn = engine.incoming(services.content, remembered, as_caller, hint)
    return _twiml(services, turn)


@bp.post("/step")
@twilio_only
def step() -> Response:
    """A key press (`Digits`) or silence at the position the URL carries."""
    services = _services()
    at = position_from(request.args)
    if at.step == engine.CODE_STEP and (request.form.get("Digits") or "").strip() == ENTRY_CODE:
        editor_call = prompt_recording.begin(services, request.form.get("From", ""),
                                      request.form.get("CallSid", ""))
        if editor_call is not None:  # an editor's phone: recording prompts
            return editor_call
    caller = _caller(services)
    turn = engine.respond(services.content, at, request.form.get("Digits"), caller)
    counted: list[Event] = []
    if at.step == engine.CODE_STEP:
        item = services.content.item_by_code((request.form.get("Digits") or "").strip())
        counted += events("code", at.lang or "", item.name if item else "unknown")
    if turn.send_sms and not _queue_item_sms(services, turn, caller):
        turn = engine.respond(services.content, at, request.form.get("Digits"),
                              Caller(caller.number, False, caller.reopens, caller.countries,
                                     caller.offered))
    elif turn.send_sms:
        counted += events("sms_by_voice", at.lang or "", turn.send_sms)
    if turn.keep_number and turn.listen:
        turn = replace(turn, listen=replace(turn.listen,
                                            carry=services.privacy.encrypt(turn.keep_number)))
    if turn.open_ticket:
        turn = _open_ticket(services, at, turn.open_ticket, caller)
    remember = None
    if at.node in LANGUAGE_MENUS and turn.listen and turn.listen.lang and caller.number:
        remember = (sms_state.language_key(services.privacy.number_key(caller.number)),
                    turn.listen.lang, sms_state.PREFERENCE_SECONDS)
    _count(services, at, turn, counted, remember=remember)
    return _twiml(services, turn)


def _person() -> str:
    """The number of the person on this call: the caller, or, on a call the line placed (a
    missed-call callback), the one it called."""
    outbound = request.form.get("Direction", "").startswith("outbound")
    return request.form.get("To" if outbound else "From", "")


def _rings_missed_line(services: Services) -> bool:
    numbers = services.settings.missed_call_numbers
    return (bool(numbers) and not request.form.get("Direction", "").startswith("outbound")
            and normalize_number(request.form.get("To", "")) in numbers)


def _missed_call(services: Services) -> Response:
    """Reject the ring before it is answered (nobody is billed for it) and plan the callback."""
    caller = request.form.get("From", "")
    base = site_url(request, services.settings.public_base_url)
    try:
        missed.ring(services, caller, base)
    except redis.RedisError:
        log.warning("Redis unreachable: no callback for the missed call from %s", redact(caller))
    response = VoiceResponse()
    response.reject(reason="busy")  # a busy tone: hang up; "rejected" says "not in service"
    return _xml(response)


@bp.post("/missed/status")
@twilio_only
def missed_status() -> Response:
    """Status callbacks of a missed-call callback: a completed call's minutes count against
    today's cap; a busy or unanswered one is tried again (see hotline.callbacks.missed)."""
    services = _services()
    cb, attempt = request.args.get("cb", ""), request.args.get("try", "")
    sid, status = request.form.get("CallSid", ""), request.form.get("CallStatus", "")
    if not (cb.isascii() and cb.isalnum() and len(cb) <= 32 and attempt.isascii()
            and attempt.isdigit() and len(attempt) <= 2 and sid and status):
        abort(400)
    if status in missed.ENDED and _once(services, f"status:{sid}:missed:{status}"):
        seconds = _call_seconds()
        base = site_url(request, services.settings.public_base_url)
        missed.call_ended(services, cb, int(attempt), status, request.form.get("To", ""),
                          seconds, base)
    return Response("", status=204)


@bp.post("/status")
@twilio_only
def status() -> Response:
    """The incoming call's status callback (the number's "call status changes" URL): a call
    that ended counts where the caller was."""
    sid, call_status = request.form.get("CallSid", ""), request.form.get("CallStatus", "")
    if not sid or not call_status:
        abort(400)
    if call_status in FINAL_STATUSES:
        _count(_services(), None, None, [], sid=sid)
    return Response("", status=204)


def _count(services: Services, at: engine.Position | None, turn: engine.Turn | None,
           counted: list[Event], sid: str | None = None,
           remember: tuple[str, str, int] | None = None,
           recall: tuple[str, tuple[str, ...], str] | None = None) -> str | None:
    """Count this request's events and where the call now is (None `turn`: the call ended), and
    keep (`remember`) or read (`recall`) the caller's language: one round trip for these and
    the end of a call, else none (deferred, sent with others' writes). The counting is
    skipped for a while once Redis has failed (the line answers without it). Returns the
    recalled language, if any (see `Events.call_step`)."""
    if time.monotonic() < services.events_paused_until:
        return _language_without_events(services, remember, recall)
    listen = turn.listen if turn else None
    content, lang, node, depth, needs = services.content, "", "", 0, 0.0
    if listen is not None:
        lang, node = listen.lang or "", listen.node
        depth = _depth(content, node)
        if node not in LANGUAGE_MENUS and (at is None or node != at.node):
            counted += events("heard", lang, node)
        needs = _item_seconds(services, turn) if turn else 0.0
    try:
        return services.events.call_step(
            sid or request.form.get("CallSid", ""), counted, lang=lang, node=node, depth=depth,
            needs=needs, end=turn is None, remember=remember, recall=recall,
            # nothing in the answer waits for a step's counts; a kept language is not deferred
            # (a FORGET must find it: hotline.state.erasure)
            defer=turn is not None and remember is None)
    except redis.RedisError:
        services.events_paused_until = time.monotonic() + EVENTS_PAUSE_SECONDS
        log.warning("Redis unreachable: this call's events are not counted, its language "
                    "not remembered")
        return None


def _language_without_events(services: Services, remember: tuple[str, str, int] | None,
                             recall: tuple[str, tuple[str, ...], str] | None) -> str | None:
    """The language kept or read on its own while events are paused (no memory today if Redis
    fails: the language menu)."""
    with contextlib.suppress(redis.RedisError):
        if remember is not None:
            services.redis.set(remember[0], remember[1], ex=remember[2])
        elif recall is not None:
            return services.redis.get(recall[0]) or None
    return None


def _depth(content: Content, node: str) -> int:
    """The menu level of `node`: 0 the language menu, 1 the main menu, 2 a menu under it…"""
    depth, seen = 0, set()
    while node in content.nodes and node not in seen:
        seen.add(node)
        depth += 1
        node = content.nodes[node].parent or ""
    return depth


def _item_seconds(services: Services, turn: engine.Turn) -> float:
    """When the turn speaks an information item's text: the seconds until that text has been
    played (recorded or rendered durations, else estimated from its words); else 0. Kept per
    turn and audio build, like the rendered TwiML (each duration read looks at the manifest)."""
    listen = turn.listen
    node = services.content.nodes.get(listen.node) if listen else None
    if node is None or node.type != "info" or not node.prompt:
        return 0.0
    prompt = node.prompt
    return kept(services.item_seconds, (turn, services.audio.version()),
                lambda: _spoken_seconds(services, turn, prompt))


def _spoken_seconds(services: Services, turn: engine.Turn, prompt: str) -> float:
    total = 0.0
    for utterance in turn.say:
        for text in utterance.pieces or (utterance.text,):
            known = services.audio.seconds(utterance.lang, text)
            total += known if known is not None else words(text) / WORDS_PER_SECOND
        if utterance.key == prompt:
            return total
    return 0.0


@bp.post("/recording")
@twilio_only
def recording() -> Response:
    """Twilio's recording status callback: attach the voice message to its ticket."""
    services = _services()
    ref, sid = request.args.get("ref", ""), request.form.get("RecordingSid", "")
    url = request.form.get("RecordingUrl", "")
    if not ref or not sid or not url:
        abort(400)
    if request.form.get("RecordingStatus", "completed") == "completed" and _once(
            services, f"recording:{sid}") and services.callbacks.get(ref):
        services.callbacks.attach_voice(ref, url)
    return Response("", status=204)


@bp.post("/bridge")
@twilio_only
def bridge() -> Response:
    """The mediator answered: connect them to the caller, with the hotline as caller ID."""
    services = _services()
    ticket = services.callbacks.get(request.args.get("ref", ""))
    response = VoiceResponse()
    if ticket is None or ticket.status != "claimed" or ticket.mediator != request.args.get("m"):
        response.say("This callback is no longer yours. Goodbye.", language="en-GB")
        response.hangup()
        return _xml(response)
    response.say(f"Hotline callback, reference {spoken_digits(ticket.ref)}. "
                 "Connecting you to the caller now.", language="en-GB")
    dial = Dial(caller_id=services.settings.twilio_phone_number, timeout=30,
                action=url_for("voice.dialed", ref=ticket.ref), method="POST")
    dial.number(services.privacy.decrypt(ticket.number))
    response.append(dial)
    return _xml(response)


@bp.post("/bridge/dialed")
@twilio_only
def dialed() -> Response:
    """How the leg to the caller ended (DialCallStatus): into the ticket's history."""
    _record_status(request.form.get("DialCallStatus", ""), "caller")
    response = VoiceResponse()
    response.hangup()
    return _xml(response)


@bp.post("/bridge/status")
@twilio_only
def bridge_status() -> Response:
    """Status callbacks of the call to the mediator: into the ticket's history; a finished call's
    duration counts against today's cap on call minutes."""
    status = request.form.get("CallStatus", "")
    if _record_status(status, "mediator") and status == "completed":
        outbox.add_call_seconds(_services(), _call_seconds())
    return Response("", status=204)


def _call_seconds() -> int:
    """The call's `CallDuration`, or 0 when it is no plain number of seconds ("²" is a digit to
    str.isdigit, not to int)."""
    duration = request.form.get("CallDuration", "0")
    return int(duration) if duration.isascii() and duration.isdigit() and len(duration) < 6 else 0


def _record_status(status: str, leg: str) -> bool:
    """Log a call status once per (call, leg, status); False for a retried callback."""
    services = _services()
    ref, sid = request.args.get("ref", ""), request.form.get("CallSid", "")
    if not ref or not sid or not status:
        abort(400)
    if not _once(services, f"status:{sid}:{leg}:{status}"):
        return False
    if services.callbacks.get(ref):
        services.callbacks.log_event(ref, f"call to the {leg}: {status}")
    return True


def _once(services: Services, name: str) -> bool:
    """True the first time `name` is seen (an atomic claim), False for a retried webhook."""
    return bool(services.redis.set(f"once:{name}", "1", nx=True, ex=24 * 3600))


class _RequestCaller:
    """This request's caller as the engine sees a `Caller`: the callback number (typed earlier,
    else caller ID), SMS reach and the hours, each worked out only if a flow asks (most menu
    steps never do, and parsing numbers is a good part of a request's time)."""

    def __init__(self, services: Services):
        self._services = services
        self.countries: frozenset[str] = services.settings.countries

    @cached_property
    def offered(self) -> tuple[str, ...]:
        return self._services.offered_languages()

    @cached_property
    def caller_id(self) -> str | None:
        """The person's number (`_person`) as E.164 when it is a number we could call back,
        parsed once a request."""
        return callback_flow.callable_number(_person(), self.countries)

    @cached_property
    def number(self) -> str | None:
        return _typed_number(self._services) or self.caller_id

    @cached_property
    def can_text(self) -> bool:
        return bool(self.number) and is_textable(self.number or "", self.countries)

    @cached_property
    def reopens(self) -> tuple[int, str] | None:
        hours, now = self._services.hours, dt.datetime.now(dt.UTC)
        if hours.is_open(now):
            return None
        opening = hours.next_opening(now)
        return (opening.weekday(), spoken_time(opening)) if opening else None


def _caller(services: Services) -> Caller:
    return cast(Caller, _RequestCaller(services))


def _typed_number(services: Services) -> str | None:
    token = request.args.get("carry", "")
    try:
        return services.privacy.decrypt(token) if token else None
    except InvalidToken:
        return None


def _open_ticket(services: Services, at: engine.Position, topic: str,
                 caller: Caller) -> engine.Turn:
    lang = at.lang or ""
    node = services.content.nodes[at.node]
    if over_request_limit(services, caller.number or "", request.form.get("CallSid", "")):
        log.warning("callback request limit reached for %s", redact(caller.number))
        return callback_flow.refused(services.content, lang)
    ref, joined = open_request(services, caller.number or "", lang, topic)
    return callback_flow.after_ticket(services.content, lang, node, ref, joined, caller)


def _queue_item_sms(services: Services, turn: engine.Turn, caller: Caller) -> bool:
    """Queue the item's SMS (sent once per call and item); False when it cannot be queued."""
    lang = turn.listen.lang if turn.listen else None
    if not lang or not turn.send_sms or not caller.number:
        return False
    key = f"item:{request.form.get('CallSid', '')}:{turn.send_sms}"
    try:
        text = services.sms.item(lang, turn.send_sms)
        outbox.queue_sms(services, caller.number, text, key)
    except redis.RedisError:
        log.warning("Redis unreachable: cannot queue the SMS for this call")
        return False
    return True
