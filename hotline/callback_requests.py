"""Callback requests from callers and texters, their outcomes, and the SMS that go with them."""

from __future__ import annotations

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
