"""The missed-call line: a person without credit rings one of HOTLINE_MISSED_CALL_NUMBERS; the line
rejects the call unanswered (`<Reject>`: nobody pays for it) and calls them back with the voice
menu in their remembered language, or texts them the SMS menu (HOTLINE_MISSED_CALL_REPLY).

A ring plans one callback, HOTLINE_MISSED_CALL_DELAY_SECONDS later during the opening hours, else
at the next opening. Rings while one is planned (until MERGE_SECONDS after it is due) join it; a
number gets at most HOTLINE_MISSED_CALLBACKS_PER_DAY callbacks a day; only numbers the line may
call (`callable_number`) or text (`is_textable`) are answered: the allowed countries, never
premium-rate. Nothing is planned once today's cap on call minutes (or SMS) is reached, and the
outbox checks the cap again when it sends. A callback that finds the line busy or is not answered
is tried again RETRY_SECONDS later (within the hours), at most RETRIES times.

Keys (`<n>` is the number's keyed hash):
- `mc:wait:<n>`       a callback is planned: rings join it (until MERGE_SECONDS after it is due)
- `mc:day:<n>:<day>`  callbacks planned for the number that day (days since the epoch); 1 day
The jobs hold the number encrypted; the outbox's `out:call:missed:<id>:<try>` and
`out:sms:missed:<id>` make each attempt happen once.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import time
from urllib.parse import urlencode

from hotline.callbacks import outbox
from hotline.engine import sms as sms_engine
from hotline.engine.callback import callable_number
from hotline.services import Services, job_queue
from hotline.state import sms as sms_state
from hotline.state.privacy import is_textable, redact

log = logging.getLogger(__name__)
ANSWER_PATH = "/voice"  # the callback's TwiML: the line's own welcome, as for a call to it
STATUS_PATH = "/voice/missed/status"
MERGE_SECONDS = 10 * 60
RETRY_SECONDS = 5 * 60
RETRIES = 2
RETRIED = ("busy", "no-answer")
ENDED = ("completed", "busy", "no-answer", "failed", "canceled")


def ring(services: Services, number: str, base: str, now: float | None = None) -> str | None:
    """A ring from `number` on a missed-call number: plan its callback, whose call fetches its
    TwiML from `base` (the URL Twilio sees). Returns the callback's id, or None when none is
    planned (a number we do not call back, one already planned, the daily limit or cap reached,
    the line never opens). Raises RedisError."""
    settings, r = services.settings, services.redis
    now = time.time() if now is None else now
    by_sms = settings.missed_call_reply == "sms"
    e164 = callable_number(number, settings.countries)
    if e164 is None or (by_sms and not is_textable(e164, settings.countries)):
        log.info("missed call from %s: not a number the line answers", redact(number))
        return None
    used, cap = outbox.cap_status(services)["sms" if by_sms else "call minutes"]
    if used >= cap:
        log.warning("missed call from %s: today's cap is reached, no callback", redact(number))
        return None
    due = _due(services, now + settings.missed_call_delay_seconds)
    if due is None:
        return None
    n = services.privacy.number_key(e164)
    if not r.set(f"mc:wait:{n}", "1", nx=True, ex=int(due - now) + MERGE_SECONDS):
        log.info("missed call from %s joins the callback already planned", redact(number))
        return None
    day = f"mc:day:{n}:{int(now // 86400)}"
    pipe = r.pipeline()
    pipe.incr(day)
    pipe.expire(day, 86400)
    if int(pipe.execute()[0]) > settings.missed_callbacks_per_day:
        log.warning("missed call from %s: daily callbacks used up", redact(number))
        return None
    cb = secrets.token_hex(8)
    _schedule(services, services.privacy.encrypt(e164), base, cb, 0, due)
    log.info("missed call from %s: callback %s at %s", redact(number), cb,
             dt.datetime.fromtimestamp(due, dt.UTC).isoformat(timespec="seconds"))
    return cb


def call_back(services: Services, to_token: str, base: str, cb: str, attempt: int) -> str | None:
    """Make callback `cb`'s attempt `attempt` (the RQ job): the call, or the SMS menu; returns the
    Call or Message SID, None when it was made before (or the number opted out of SMS)."""
    if services.settings.missed_call_reply == "sms":
        n = services.privacy.number_key(services.privacy.decrypt(to_token))
        reply = sms_engine.menu(services.sms, sms_state.load(services.redis, n))
        sid = outbox.deliver(services, to_token, reply.text or "", f"missed:{cb}")
        if sid:  # the numbers of the menu now refer to it
            sms_state.save(services.redis, n, reply)
        return sid
    status = f"{base}{STATUS_PATH}?{urlencode({'cb': cb, 'try': attempt})}"
    return outbox.place(services, to_token, f"{base}{ANSWER_PATH}", status,
                        f"missed:{cb}:{attempt}")


def call_ended(services: Services, cb: str, attempt: int, status: str, to: str, seconds: int,
               base: str, now: float | None = None) -> bool:
    """Callback `cb`'s call to `to` ended with `status` (once per call and status): a completed
    call's `seconds` count against today's cap; a busy or unanswered one is tried again, at most
    RETRIES times. Returns True when another attempt is planned."""
    if status == "completed":
        outbox.add_call_seconds(services, seconds)
        return False
    number = callable_number(to, services.settings.countries)
    if status not in RETRIED or attempt >= RETRIES or number is None:
        return False
    now = time.time() if now is None else now
    due = _due(services, now + RETRY_SECONDS)
    if due is None:
        return False
    n = services.privacy.number_key(number)
    services.redis.set(f"mc:wait:{n}", "1", ex=int(due - now) + MERGE_SECONDS)
    _schedule(services, services.privacy.encrypt(number), base, cb, attempt + 1, due)
    log.info("callback %s to %s: %s, tried again at %s", cb, redact(number), status,
             dt.datetime.fromtimestamp(due, dt.UTC).isoformat(timespec="seconds"))
    return True


def _due(services: Services, earliest: float) -> float | None:
    """`earliest` when the line is open then, else its next opening (None: it never opens)."""
    at = dt.datetime.fromtimestamp(earliest, dt.UTC)
    if services.hours.is_open(at):
        return earliest
    opening = services.hours.next_opening(at)
    return opening.timestamp() if opening else None


def _schedule(services: Services, to_token: str, base: str, cb: str, attempt: int,
              due: float) -> None:
    from workers import jobs  # here: workers.jobs imports this module

    options = {"retry": outbox.retry_policy(services), "result_ttl": 3600,
               "failure_ttl": outbox.KEEP_SECONDS,
               "description": f"missed-call callback {cb} attempt {attempt}"}
    args = (to_token, base, cb, attempt)
    if due <= time.time():
        services.enqueue(jobs.missed_call_back, *args, **options)
    else:
        job_queue(services.rq).enqueue_at(dt.datetime.fromtimestamp(due, dt.UTC),
                                          jobs.missed_call_back, *args, **options)
