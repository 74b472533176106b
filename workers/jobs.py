"""RQ jobs. Each builds the process's services once, from the same environment as the web."""

from __future__ import annotations

from hotline import settings
from hotline.callbacks import missed, outbox
from hotline.services import Services, build_services

_services: Services | None = None


def services() -> Services:
    """This worker process's services (content loaded and validated once)."""
    global _services
    if _services is None:
        _services = build_services(settings.from_environment_or_exit())
    return _services


def send_sms(to_token: str, body: str, key: str, capped: bool = True,
             status_callback: str | None = None) -> str | None:
    """Send one SMS (see hotline.callbacks.outbox.deliver); returns the Message SID or None."""
    return outbox.deliver(services(), to_token, body, key, capped, status_callback)


def place_call(to_token: str, url: str, status_callback: str, key: str) -> str | None:
    """Place one call (see hotline.callbacks.outbox.place); returns the Call SID or None."""
    return outbox.place(services(), to_token, url, status_callback, key)


def missed_call_back(to_token: str, base: str, cb: str, attempt: int) -> str | None:
    """Call back (or text) a ring on the missed-call line (see hotline.callbacks.missed)."""
    return missed.call_back(services(), to_token, base, cb, attempt)


def delete_recording(sid: str) -> None:
    """Delete a voice message at Twilio (already gone counts as done)."""
    from twilio.base.exceptions import TwilioRestException

    try:
        services().twilio.recordings(sid).delete()
    except TwilioRestException as exc:
        if exc.status != 404:
            raise outbox.DeliveryError(f"Twilio answered {exc.status}") from None


def rewrite_append_only_file() -> bool:
    """After a FORGET: rewrite Redis's append-only file (hotline.state.erasure)."""
    from hotline.state import erasure

    return erasure.rewrite_append_only_file(services().redis)


def keep_take(sid: str, lang: str, key: str, text: str, login: str) -> float | None:
    """Keep a take recorded by phone (see hotline.twilio.prompt_recording.keep_take)."""
    from hotline.twilio.prompt_recording import keep_take as keep

    return keep(services(), sid, lang, key, text, login)


def maintenance() -> dict[str, object]:
    """Every minute (enqueued by the workers' clock, `workers.clock`): move the spool into Redis,
    put overdue claims back in line, alert mediators about long waits, delete old voice
    messages at Twilio."""
    from hotline.callbacks import requests as callback_requests
    from hotline.state import erasure
    from workers import clock

    found = services()
    callback_requests.replay_spool(found)
    expired = found.callbacks.expire_claims()
    alerted = callback_requests.alert_long_waits(found)
    for url in found.callbacks.recordings_due():
        erasure.queue_recording_deletion(found, url)
    clock.mark_done(found)
    return {"expired": expired, "alerted": alerted}
