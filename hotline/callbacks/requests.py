"""Callback requests from callers and texters, their outcomes, and the SMS that go with them."""

from __future__ import annotations

import datetime as dt
import logging
import time

import redis
from cryptography.fernet import InvalidToken

from hotline.callbacks import outbox
from hotline.engine.sms import Reply
from hotline.services import Services
from hotline.state import sms as sms_state
from hotline.state.erasure import forget
from hotline.state.privacy import is_textable, redact

log = logging.getLogger(__name__)
TICKETS_PER_CALL = 2  # callback requests one phone call may open


def open_request(services: Services, number: str, lang: str, topic: str, note: str = "",
                 confirm_by_sms: bool = True) -> tuple[str, bool]:
    """Open (or join) the ticket of `number`; queue the confirmation SMS unless asked not to
    (an SMS request is answered in its reply). Returns (ref, joined).

    When Redis is unreachable the request goes to the durable spool and the caller still gets a
    reference; it enters the queue, once, when Redis is back."""
    privacy = services.privacy
    sealed_note = privacy.encrypt(note) if note else ""  # free text: may name or number someone
    try:
        ref, joined = services.callbacks.request(privacy.number_key(number),
                                                 privacy.encrypt(number), lang, topic, sealed_note)
    except redis.RedisError:
        ref, joined = services.spool.add_request({
            "number_key": privacy.number_key(number), "number": privacy.encrypt(number),
            "lang": lang, "topic": topic, "note": sealed_note,
            "confirm": "1" if confirm_by_sms else ""})
        log.warning("Redis unreachable: callback request %s kept in the spool", ref)
        return ref, joined
    if confirm_by_sms and not joined:
        _confirm(services, number, lang, ref)
    if services.spool.pending():
        replay_spool(services)
    return ref, joined


def spool_sms_command(services: Services, number: str, reply: Reply) -> None:
    """Keep a STOP, START or FORGET received while Redis is unreachable, to apply when it is back
    (they always take effect)."""
    if reply.callback == "forget":
        services.spool.append({"kind": "forget", "number": services.privacy.encrypt(number),
                               "number_key": services.privacy.number_key(number)})
    elif reply.opted_out is not None:
        services.spool.append({"kind": "optout", "number_key": services.privacy.number_key(number),
                               "value": "1" if reply.opted_out else ""})
    else:
        return
    log.warning("Redis unreachable: an SMS command of %s kept in the spool", redact(number))


def over_request_limit(services: Services, number: str, call: str | None = None) -> bool:
    """Count a callback request for `number` (and for the phone call `call`, if any); True past
    CALLBACKS_PER_DAY for the number, or past TICKETS_PER_CALL in one call (a caller typing
    third parties' numbers, each of whom would get an SMS). Keys: `cb:rate:<n>:<day>` and
    `cb:call:<CallSid>`, 1 day each. Never refuses when Redis is down (the spool takes it)."""
    daily = f"cb:rate:{services.privacy.number_key(number)}:{int(time.time() // 86400)}"
    try:
        pipe = services.redis.pipeline()
        pipe.incr(daily)
        pipe.expire(daily, 86400)
        if call:
            pipe.incr(f"cb:call:{call}")
            pipe.expire(f"cb:call:{call}", 86400)
        counts = pipe.execute()
    except redis.RedisError:
        return False
    per_call = int(counts[2]) if call else 0
    return int(counts[0]) > services.settings.callbacks_per_day or per_call > TICKETS_PER_CALL


def replay_spool(services: Services) -> int:
    """Move the spooled requests into the queue and apply the spooled SMS commands (each once, in
    order); returns how many were handed over."""
    privacy = services.privacy

    def take(entry: dict[str, str]) -> None:
        kind = entry.get("kind", "callback")
        if kind == "optout":
            sms_state.set_opted_out(services.redis, entry["number_key"], bool(entry["value"]))
            return
        if kind == "forget":
            forget(services, privacy.decrypt(entry["number"]))
            return
        number = privacy.decrypt(entry["number"])
        ref, joined = services.callbacks.request(
            privacy.number_key(number), entry["number"], entry["lang"], entry["topic"],
            entry.get("note", ""),
            now=float(entry["at"]), request_id=entry["id"], ref=entry["ref"])
        if ref != entry["ref"]:
            # Taken (a ticket from before spool references), or the number had an open ticket
            # the spool could not see: the caller learns the reference that exists.
            log.warning("spool: request %s became %s; the caller is told by SMS", entry["ref"], ref)
            if is_textable(number, services.settings.countries):
                name = "cb_joined" if joined else "cb_created"
                outbox.queue_sms(services, number,
                                 services.sms.text(entry["lang"], name, ref=ref),
                                 f"cb-spooled:{entry['id']}")
        elif entry.get("confirm") and not joined:
            _confirm(services, number, entry["lang"], ref)

    def take_usable(entry: dict[str, str]) -> None:
        try:
            take(entry)
        except (InvalidToken, KeyError, ValueError, TypeError) as exc:  # never usable: not kept
            log.error("spool: entry %s cannot be used (%s), skipped", entry.get("id", "?"),
                      type(exc).__name__)

    count = services.spool.replay(take_usable)
    if count:
        log.info("spool: %d request(s) and SMS command(s) replayed", count)
    return count


def _confirm(services: Services, number: str, lang: str, ref: str) -> None:
    if is_textable(number, services.settings.countries):
        outbox.queue_sms(services, number, services.sms.text(lang, "cb_created", ref=ref),
                         f"cb-created:{ref}")


def record_outcome(services: Services, ref: str, outcome: str, mediator: str) -> str:
    """Close or retry the ticket with a mediator's outcome; when it becomes unreachable, tell the
    caller by SMS. Returns the new status (raises TicketError when not allowed)."""
    status = services.callbacks.close(ref, outcome, mediator)
    ticket = services.callbacks.get(ref)
    if status == "unreachable" and outcome == "no_answer" and ticket:
        number = services.privacy.decrypt(ticket.number)
        if is_textable(number, services.settings.countries):
            outbox.queue_sms(services, number,
                             services.sms.text(ticket.lang, "cb_unreachable", ref=ref),
                             f"cb-unreachable:{ref}")
    return status


def alert_long_waits(services: Services, now: float | None = None) -> list[str]:
    """During opening hours, text the mediators of each language whose oldest ticket has waited
    longer than ALERT_AFTER_SECONDS while none of them is active; once per ticket and mediator.
    Returns the logins alerted."""
    now = time.time() if now is None else now
    if not services.hours.is_open(dt.datetime.fromtimestamp(now, dt.UTC)):
        return []
    alerted = []
    langs = list(services.content.languages)
    for lang, (count, oldest) in services.callbacks.stats(langs, now).items():
        if not count or oldest < services.settings.alert_after_seconds:
            continue
        if services.mediators.working_now(lang):
            continue
        head = services.callbacks.waiting(lang)[0]
        for mediator in services.mediators.active_for(lang):
            text = (f"Hotline: {count} callback(s) waiting in {lang}, the oldest for "
                    f"{int(oldest // 60)} min. Log in to the console or text NEXT.")
            outbox.queue_sms(services, services.privacy.decrypt(mediator.phone), text,
                             f"alert:{head}:{mediator.login}")
            alerted.append(mediator.login)
    return alerted
