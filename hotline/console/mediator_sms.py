"""SMS commands for mediators on a basic phone: NEXT (or SUIVANT, VOLGENDE), DONE ref, FAIL ref.

Mediators' texts are in English, the console's language; callers' texts come from the content.
"""

from __future__ import annotations

from hotline.callbacks.queue import TicketError
from hotline.callbacks.requests import record_outcome
from hotline.console import audit
from hotline.console.mediators import Mediator
from hotline.content.keywords import words
from hotline.services import Services

NEXT = {"NEXT", "SUIVANT", "VOLGENDE"}
DONE = {"DONE", "FAIT", "KLAAR"}
FAIL = {"FAIL", "ECHEC", "MISLUKT"}
HELP = "Commands: NEXT (your next ticket), DONE <ref> (reached), FAIL <ref> (no answer)."


def answer(services: Services, mediator: Mediator, body: str) -> str:
    """Carry out one command from `mediator`; returns the reply text."""
    typed = words(body)
    command = typed[0] if typed else ""
    if not mediator.takes_calls:
        return "This account works on the line's content and takes no calls."
    services.mediators.seen(mediator.login)
    if command in NEXT:
        ticket = services.callbacks.take_next(mediator.login, list(mediator.languages))
        if ticket is None:
            return "No ticket waiting in your languages."
        number = services.privacy.decrypt(ticket.number)
        audit.record(services.redis, mediator.login, ticket.ref, "got the number by SMS")
        return (f"Ticket {ticket.ref} ({ticket.lang}, {ticket.topic}): call {number} from the "
                f"console or your phone. Then DONE {ticket.ref} or FAIL {ticket.ref}.")
    if command in DONE | FAIL and len(typed) > 1:
        ref = typed[1]
        try:
            status = record_outcome(services, ref, "reached" if command in DONE else "no_answer",
                                    mediator.login)
        except TicketError as exc:
            return f"Ticket {ref}: {exc}."
        return f"Ticket {ref}: {status}."
    return HELP
