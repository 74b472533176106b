"""What Redis remembers about a texter, keyed by the keyed hash of their number (never the number).

Keys (`<n>` is `Privacy.number_key(number)`):
- `sms:session:<n>`  the SMS menu their numbers refer to; expires after SESSION_SECONDS
- `lang:<n>`         the number's chosen language, by SMS or on the voice line; expires after
                     PREFERENCE_SECONDS
- `sms:optout:<n>`   present while they have opted out (STOP); removed by START
- `sms:seen:<MessageSid>`  the TwiML answered to that message, encrypted (a mediator's may hold
                           a number), or SILENT when nothing was answered; a retried webhook gets
                           it and nothing else; 1 day
- `sms:rate:<n>:<hour>`    replies counted this hour, for the anti-pumping limit; 1 hour
- `forgot:<n>`             present for FORGOT_SECONDS after a FORGET: a finish deferred from
                           before it keeps nothing about the number

An incoming SMS takes one round trip in the common case, one Lua script: `begin` (claim the
MessageSid, read what the flow needs: the sender's mediator login, session, language, opt-out,
replies this hour, SMS sent today); `finish` (remember the reply's state, count the reply against
the hourly limit and the daily cap, keep the answer for retries) is deferred: it leaves with
other requests' writes in the background (hotline.state.deferred), and this process's next
`begin` for the same number goes after it. The daily cap's key is
outbox's `cap:sms:<day>`, the mediator's `med:phone:<n>` (console/mediators.py).
"""

from __future__ import annotations

import functools
import json
import time
from dataclasses import dataclass, field

from redis.client import Pipeline
from redis.commands.core import Script

from hotline.engine.sms import Conversation, Reply
from hotline.state.client import TextRedis
from hotline.state.deferred import DeferredWrites
from hotline.state.events import KEEP_SECONDS as EVENTS_KEEP_SECONDS

SESSION_SECONDS = 30 * 60
PREFERENCE_SECONDS = 90 * 24 * 3600
SEEN_SECONDS = 24 * 3600
SILENT = "-"  # kept for a message answered with no text (no encryption needed)
FORGOT_SECONDS = 10  # far longer than a deferred write waits (hotline.state.deferred)


# KEYS: sms:seen:<sid>, med:phone:<n>, sms:session:<n>, lang:<n>, sms:optout:<n>,
# sms:rate:<n>:<hour>, cap:sms:<day>. ARGV: SEEN_SECONDS.
# Returns {1, earlier answer ('' while the first is being answered)} for a retried message,
# else {0, mediator login, session node, language, opted out (0/1), replies this hour, SMS sent
# today}.
_BEGIN = """
if not redis.call('SET', KEYS[1], '', 'NX', 'EX', ARGV[1]) then
  return {1, redis.call('GET', KEYS[1]) or ''}
end
return {0, redis.call('GET', KEYS[2]) or '', redis.call('GET', KEYS[3]) or '',
  redis.call('GET', KEYS[4]) or '', redis.call('EXISTS', KEYS[5]),
  redis.call('GET', KEYS[6]) or '0', redis.call('GET', KEYS[7]) or '0'}
"""

# KEYS: sms:seen:<sid>, sms:session:<n>, lang:<n>, sms:optout:<n>, sms:rate:<n>:<hour>,
# cap:sms:<day>, ev:<day>, forgot:<n> (while it exists nothing about the number is kept: a
# write deferred from before a FORGET lands after it).
# ARGV: node ('' unchanged), language ('' unchanged), opt-out ('1' set, '0' clear, ''
# unchanged), count the reply this hour (1/0), count it against the daily cap (1/0), the answer
# ('' keeps none: the caller still has work to do), then SESSION_SECONDS, PREFERENCE_SECONDS,
# SEEN_SECONDS, then the events' day ttl and, as a JSON object of field -> increment, the
# events to count in KEYS[7] (ev:<day>: see hotline.state.events; 'ev:none' counts none).
_FINISH = """
if redis.call('EXISTS', KEYS[8]) == 0 then
  if ARGV[1] ~= '' then redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[7]) end
  if ARGV[2] ~= '' then redis.call('SET', KEYS[3], ARGV[2], 'EX', ARGV[8]) end
  if ARGV[3] == '1' then redis.call('SET', KEYS[4], '1')
  elseif ARGV[3] == '0' then redis.call('DEL', KEYS[4]) end
  if ARGV[4] == '1' then
    redis.call('INCR', KEYS[5])
    redis.call('EXPIRE', KEYS[5], 3600)
  end
end
if ARGV[5] == '1' then
  redis.call('INCR', KEYS[6])
  redis.call('EXPIRE', KEYS[6], 2 * 24 * 3600)
end
if ARGV[6] ~= '' then redis.call('SET', KEYS[1], ARGV[6], 'XX', 'EX', ARGV[9]) end
if KEYS[7] ~= 'ev:none' then
  for f, n in pairs(cjson.decode(ARGV[11])) do redis.call('HINCRBY', KEYS[7], f, n) end
  redis.call('EXPIRE', KEYS[7], ARGV[10])
end
return 0
"""


@dataclass(frozen=True)
class Incoming:
    """What `begin` found: `earlier` is the answer given before (a retry: nothing else is
    read), else the sender's mediator login ('' if none), conversation and replies this hour."""

    earlier: str | None
    mediator: str = ""
    conversation: Conversation = field(default_factory=Conversation)
    replies_this_hour: int = 0
    sent_today: int = 0  # SMS counted against the daily cap (`cap_key`) so far


def _rate_key(n: str) -> str:
    return f"sms:rate:{n}:{int(time.time() // 3600)}"


@functools.lru_cache(maxsize=16)
def _scripts(r: TextRedis) -> tuple[Script, Script]:
    """The two scripts, registered once per client."""
    return r.register_script(_BEGIN), r.register_script(_FINISH)


def begin(r: TextRedis, n: str, message_sid: str, cap_key: str = "cap:none",
          deferred: DeferredWrites | None = None) -> Incoming:
    """Claim `message_sid` and read what answering it needs (today's count at `cap_key` too),
    in one round trip: with `deferred`, after the writes this process deferred about `n`. A retry's
    `earlier` is '' while the first is being answered, SILENT when it got no text."""
    script = _scripts(r)[0]
    keys = [f"sms:seen:{message_sid}", f"med:phone:{n}", f"sms:session:{n}", f"lang:{n}",
            f"sms:optout:{n}", _rate_key(n), cap_key]
    found = (deferred.send(script, keys, [SEEN_SECONDS], tag=n) if deferred is not None
             else script(keys=keys, args=[SEEN_SECONDS]))
    if int(found[0]):
        return Incoming(earlier=str(found[1]))
    _, mediator, node, lang, optout, replies, sent = found
    return Incoming(None, str(mediator),
                    Conversation(lang=lang or None, node=node or None, opted_out=bool(optout)),
                    int(replies), int(sent))


def finish(r: TextRedis, n: str, message_sid: str, reply: Reply, *, count_reply: bool,
           cap_key: str = "", answer: str = "", tally: tuple[str, dict[str, int]] = ("", {}),
           deferred: DeferredWrites | None = None) -> None:
    """In one round trip: remember what `reply` asks to remember; count a reply this hour when
    `count_reply`; count one SMS at `cap_key` (today's cap: the caller decided from `begin`'s
    count whether to answer); keep `answer` (encrypted, or SILENT) for retries; count the
    anonymous events of `tally` (`Events.tally`). With `deferred`, the writes leave in the
    background (hotline.state.deferred); an opt-out or opt-in is never deferred. Nothing is
    kept about the number while its `forgot:<n>` exists (see hotline.state.erasure)."""
    optout = {True: "1", False: "0", None: ""}[reply.opted_out]
    events_key, fields = tally
    keys = [f"sms:seen:{message_sid}", f"sms:session:{n}", f"lang:{n}", f"sms:optout:{n}",
            _rate_key(n), cap_key or "cap:none", events_key or "ev:none", forgot_key(n)]
    args: list[str | int] = [
        reply.node or "", reply.lang or "", optout, int(count_reply), int(bool(cap_key)), answer,
        SESSION_SECONDS, PREFERENCE_SECONDS, SEEN_SECONDS, EVENTS_KEEP_SECONDS,
        json.dumps(fields or {})]
    script = _scripts(r)[1]
    if deferred is None:
        script(keys=keys, args=args)
    elif reply.opted_out is None:
        deferred.submit(script, keys, args, tag=n)
    else:
        # STOP or START: consent is written before the answer leaves (a job in another process
        # must not text someone who has just said STOP), after this process's writes about `n`.
        deferred.send(script, keys, args, tag=n)


def forgot_key(n: str) -> str:
    """The key that, for FORGOT_SECONDS after a FORGET, keeps any write about number key `n`
    from landing (one deferred from before the erasure)."""
    return f"forgot:{n}"


def load(r: TextRedis, n: str) -> Conversation:
    """The remembered state of number key `n` (outside an incoming SMS: see `begin`)."""
    node, lang, optout = r.mget(f"sms:session:{n}", f"lang:{n}", f"sms:optout:{n}")
    return Conversation(
        lang=lang or None,
        node=node or None,
        opted_out=optout is not None,
    )


def save(r: TextRedis, n: str, reply: Reply) -> None:
    """Remember what `reply` asks to remember, with the expiries above (outside an incoming
    SMS: see `finish`)."""
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


def language_key(n: str) -> str:
    """The key of the language number key `n` chose (a voice request reads or keeps it in the
    round trip that counts its events: `hotline.state.events`)."""
    return f"lang:{n}"


def remember_language(r: TextRedis, n: str, lang: str) -> None:
    """Keep the language number key `n` chose, for PREFERENCE_SECONDS."""
    r.set(language_key(n), lang, ex=PREFERENCE_SECONDS)


def is_opted_out(r: TextRedis, n: str) -> bool:
    """True while number key `n` has opted out."""
    return bool(r.exists(f"sms:optout:{n}"))




def remember_answer(r: TextRedis, message_sid: str, twiml: str) -> None:
    """Keep the TwiML given to `message_sid`, so a retried webhook gets the same answer."""
    r.set(f"sms:seen:{message_sid}", twiml, xx=True, ex=SEEN_SECONDS)
