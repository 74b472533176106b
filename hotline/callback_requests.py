"""Callback requests from callers and texters, their outcomes, and the SMS that go with them."""

from __future__ import annotations

import datetime as dt
import time

from hotline import outbox
from hotline.privacy import is_textable
from hotline.services import Services


def open_request(services: Services, number: str, lang: str, topic: str, note: str = "",
                 confirm_by_sms: bool = True) -> tuple[str, bool]:
    """Open (or join) the ticket of `number`; queue the confirmation SMS unless asked not to
    (an SMS request is answered in its reply). Returns (ref, joined)."""
    ref, joined = services.callbacks.request(
        services.privacy.number_key(number), services.privacy.encrypt(number), lang, topic, note)
    if confirm_by_sms and not joined and is_textable(number, services.config["COUNTRIES"]):
        outbox.queue_sms(services, number, services.sms.text(lang, "cb_created", ref=ref),
                         f"cb-created:{ref}")
    return ref, joined


def record_outcome(services: Services, ref: str, outcome: str, mediator: str) -> str:
    """Close or retry the ticket with a mediator's outcome; when it becomes unreachable, tell the
    caller by SMS. Returns the new status (raises TicketError when not allowed)."""
    status = services.callbacks.close(ref, outcome, mediator)
    ticket = services.callbacks.get(ref)
    if status == "unreachable" and outcome == "no_answer" and ticket:
        number = services.privacy.decrypt(ticket.number)
        if is_textable(number, services.config["COUNTRIES"]):
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
        if not count or oldest < services.config["ALERT_AFTER_SECONDS"]:
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
