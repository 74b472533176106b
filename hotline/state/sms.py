"""What Redis remembers about a texter, keyed by the keyed hash of their number (never the number).

Keys (`<n>` is `Privacy.number_key(number)`):
- `sms:session:<n>`  the SMS menu their numbers refer to; expires after SESSION_SECONDS
- `lang:<n>`         the number's chosen language, by SMS or on the voice line; expires after
                     PREFERENCE_SECONDS
- `sms:optout:<n>`   present while they have opted out (STOP); removed by START
- `sms:seen:<MessageSid>`  the TwiML answered to that message, encrypted (a mediator's may hold
                           a number); a retried webhook gets it and nothing else; 1 day
- `sms:rate:<n>:<hour>`    replies counted this hour, for the anti-pumping limit; 1 hour
"""

from __future__ import annotations

import time

from redis.client import Pipeline

from hotline.engine.sms import Conversation, Reply
from hotline.state.client import TextRedis

SESSION_SECONDS = 30 * 60
PREFERENCE_SECONDS = 90 * 24 * 3600
SEEN_SECONDS = 24 * 3600


def load(r: TextRedis, n: str) -> Conversation:
    """The remembered state of number key `n`."""
    node, lang, optout = r.mget(f"sms:session:{n}", f"lang:{n}", f"sms:optout:{n}")
    return Conversation(
        lang=lang or None,
        node=node or None,
        opted_out=optout is not None,
    )


def save(r: TextRedis, n: str, reply: Reply) -> None:
    """Remember what `reply` asks to remember, with the expiries above."""
    pipe = r.pipeline()
    if reply.node is not None:
        pipe.set(f"sms:session:{n}", reply.node, ex=SESSION_SECONDS)
    if reply.lang is not None:
        pipe.set(f"lang:{n}", reply.lang, ex=PREFERENCE_SECONDS)
    if reply.opted_out is not None:
        set_opted_out(pipe, n, reply.opted_out)
    pipe.execute()


def set_opted_out(r: TextRedis | Pipeline, n: str, opted_out: bool) -> None:
    """Opt number key `n` out (STOP) or back in (START)."""
    if opted_out:
        r.set(f"sms:optout:{n}", "1")
    else:
        r.delete(f"sms:optout:{n}")


def remembered_language(r: TextRedis, n: str) -> str | None:
    """The language number key `n` chose last, if any."""
    lang = r.get(f"lang:{n}")
    return lang or None


def remember_language(r: TextRedis, n: str, lang: str) -> None:
    """Keep the language number key `n` chose, for PREFERENCE_SECONDS."""
    r.set(f"lang:{n}", lang, ex=PREFERENCE_SECONDS)


def is_opted_out(r: TextRedis, n: str) -> bool:
    """True while number key `n` has opted out."""
    return bool(r.exists(f"sms:optout:{n}"))


def claim_message(r: TextRedis, message_sid: str) -> str | None:
    """Claim an incoming message atomically. None: first time. Else the TwiML answered before
    (empty while the first request is still being answered)."""
    if r.set(f"sms:seen:{message_sid}", "", nx=True, ex=SEEN_SECONDS):
        return None
    return r.get(f"sms:seen:{message_sid}") or ""


def remember_answer(r: TextRedis, message_sid: str, twiml: str) -> None:
    """Keep the TwiML given to `message_sid`, so a retried webhook gets the same answer."""
    r.set(f"sms:seen:{message_sid}", twiml, xx=True, ex=SEEN_SECONDS)


def over_rate(r: TextRedis, n: str, limit: int) -> bool:
    """Count one reply to `n` this hour; True when that is more than `limit`."""
    key = f"sms:rate:{n}:{int(time.time() // 3600)}"
    pipe = r.pipeline()
    pipe.incr(key)
    pipe.expire(key, 3600)
    count, _ = pipe.execute()
    return int(count) > limit
