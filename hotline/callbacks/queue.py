"""Callback tickets and the per-language queues that mediators work, in Redis.

Keys (a non-clustered Redis: the scripts touch keys named inside them):
- `cb:seq`                arrival counter shared by all languages: the order nobody jumps
- `cb:ticket:<ref>`       hash: ref, lang, topic, created, status, attempts, seq, mediator,
                          number (encrypted), number_key, voice (recording URL), claimed_at,
                          first_claimed (when a mediator first took it), closed_at
- `cb:log:<ref>`          list of JSON events: the ticket's history and notes; the caller's own
                          note (free text: it may hold a number or a name) is a "note" event whose
                          `sealed` field holds it encrypted, for the claimant's eyes only
- `cb:queue:<lang>`       sorted set ref -> seq: the waiting tickets, oldest first
- `cb:claims`             sorted set ref -> claim deadline (epoch seconds)
- `cb:open:<number key>`  the ref of that number's open ticket, so a new request joins it
- `cb:by_number:<number key>`  the refs of that number's tickets (FORGET erases them)
- `cb:req:<request id>`   the ref a spooled request became, so replaying it twice does nothing
- `cb:recordings`         sorted set voice message URL -> when to delete it at Twilio
Closed tickets (done, unreachable, cancelled) and their logs expire after RETENTION_SECONDS.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass

from hotline.state.client import TextRedis
from hotline.state.events import Events, events

STATUSES = ("waiting", "claimed", "done", "unreachable", "cancelled")
OPEN = ("waiting", "claimed")
OUTCOMES = ("reached", "no_answer", "wrong_number", "referred")
RETENTION_SECONDS = 30 * 24 * 3600
REF_DIGITS = 6
SPOOL_PREFIX = "9"  # first digit of the references the spool hands out while Redis is down

# Puts every claim whose deadline has passed back in its queue at its original place.
# KEYS: none. ARGV[1]: now. Returns the refs put back.
_EXPIRE = """
local expired = redis.call('ZRANGEBYSCORE', 'cb:claims', '-inf', ARGV[1])
for _, ref in ipairs(expired) do
  redis.call('ZREM', 'cb:claims', ref)
  local t = 'cb:ticket:' .. ref
  if redis.call('HGET', t, 'status') == 'claimed' then
    local seq = redis.call('HGET', t, 'seq')
    redis.call('HSET', t, 'status', 'waiting', 'mediator', '', 'claimed_at', '')
    redis.call('ZADD', 'cb:queue:' .. redis.call('HGET', t, 'lang'), seq, ref)
    redis.call('RPUSH', 'cb:log:' .. ref, cjson.encode({at = tonumber(ARGV[1]),
      event = 'claim expired', by = ''}))
  end
end
return expired
"""

# Puts overdue claims back (as _EXPIRE), then takes the oldest waiting ticket of the given
# queues for a mediator, and counts it: one round trip for the whole take.
# KEYS: the queues (cb:queue:<lang>). ARGV: now, claim deadline, mediator, then the counts
# (hotline.state.events; '' = none): ev:<day>, ev:wait:<day>, their ttl, and for each queue the
# field its take adds to. A first take also keeps "<lang> <seconds waited>" in ev:wait:<day>.
# Returns the taken ticket's hash as a flat field/value list, or false when every queue is empty.
_TAKE = _EXPIRE.replace("return expired", "") + """
local best, best_seq, best_queue, best_at = nil, nil, nil, nil
for at, queue in ipairs(KEYS) do
  local head = redis.call('ZRANGE', queue, 0, 0, 'WITHSCORES')
  if head[1] and (best_seq == nil or tonumber(head[2]) < best_seq) then
    best, best_seq, best_queue, best_at = head[1], tonumber(head[2]), queue, at
  end
end
if not best then return false end
local ticket = 'cb:ticket:' .. best
redis.call('ZREM', best_queue, best)
redis.call('ZADD', 'cb:claims', ARGV[2], best)
redis.call('HSET', ticket, 'status', 'claimed', 'mediator', ARGV[3], 'claimed_at', ARGV[1])
local first = redis.call('HSETNX', ticket, 'first_claimed', ARGV[1])
redis.call('RPUSH', 'cb:log:' .. best, cjson.encode({at = tonumber(ARGV[1]), event = 'claimed',
  by = ARGV[3]}))
if ARGV[4] ~= '' then  -- a key's ttl is set by whoever creates it (every writer sets one)
  if redis.call('HINCRBY', ARGV[4], ARGV[6 + best_at], 1) == 1 then
    redis.call('EXPIRE', ARGV[4], ARGV[6])
  end
  if first == 1 then
    local t = redis.call('HMGET', ticket, 'lang', 'created')
    local waited = math.max(0, math.floor(tonumber(ARGV[1]) - tonumber(t[2]) + 0.5))
    if redis.call('RPUSH', ARGV[5], t[1] .. ' ' .. waited) == 1 then
      redis.call('EXPIRE', ARGV[5], ARGV[6])
    end
  end
end
return redis.call('HGETALL', ticket)
"""

# Creates a ticket, or joins the number's open one; a request id already taken returns its ref.
# KEYS: cb:open:<number key>, cb:req:<request id> (or cb:req: with no id), cb:by_number:<key>.
# ARGV: ref, now, retention, then field/value pairs of the new ticket.
# Returns {ref, joined (1/0)}, or {'', -1} when the new ref is taken (try another).
_REQUEST = """
if KEYS[2] ~= 'cb:req:' then
  local seen = redis.call('GET', KEYS[2])
  if seen then return {seen, 1} end
end
local function remember(ref)
  if KEYS[2] ~= 'cb:req:' then redis.call('SET', KEYS[2], ref, 'EX', ARGV[3]) end
end
local open = redis.call('GET', KEYS[1])
if open then
  local status = redis.call('HGET', 'cb:ticket:' .. open, 'status')
  if status == 'waiting' or status == 'claimed' then
    redis.call('RPUSH', 'cb:log:' .. open, cjson.encode({at = tonumber(ARGV[2]),
      event = 'asked again', by = ''}))
    remember(open)
    return {open, 1}
  end
end
local ticket = 'cb:ticket:' .. ARGV[1]
if redis.call('EXISTS', ticket) == 1 then return {'', -1} end
local seq = redis.call('INCR', 'cb:seq')
for i = 4, #ARGV, 2 do redis.call('HSET', ticket, ARGV[i], ARGV[i + 1]) end
redis.call('HSET', ticket, 'ref', ARGV[1], 'seq', seq, 'status', 'waiting', 'attempts', 0,
  'created', ARGV[2])
redis.call('ZADD', 'cb:queue:' .. redis.call('HGET', ticket, 'lang'), seq, ARGV[1])
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('EXPIRE', KEYS[3], ARGV[3])
redis.call('RPUSH', 'cb:log:' .. ARGV[1], cjson.encode({at = tonumber(ARGV[2]),
  event = 'requested', by = ''}))
remember(ARGV[1])
return {ARGV[1], 0}
"""

# Ends a claim or a wait. ARGV: ref, now, outcome, mediator ('' = any), max attempts, retention.
# Outcomes: reached, referred -> done; wrong_number -> unreachable; no_answer -> one more
# attempt, back to its place in the queue, or unreachable at the limit; cancelled -> cancelled.
# Returns the new status, or an error string starting with 'ERR'.
_CLOSE = """
local ref, now, outcome, who = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local t = 'cb:ticket:' .. ref
local status = redis.call('HGET', t, 'status')
if not status then return 'ERR unknown ticket' end
if status ~= 'waiting' and status ~= 'claimed' then return 'ERR ticket is ' .. status end
if who ~= '' and redis.call('HGET', t, 'mediator') ~= who then
  return 'ERR ticket is not claimed by you'
end
local new = 'done'
if outcome == 'no_answer' then
  local attempts = redis.call('HINCRBY', t, 'attempts', 1)
  if attempts >= tonumber(ARGV[5]) then new = 'unreachable' else new = 'waiting' end
elseif outcome == 'wrong_number' then new = 'unreachable'
elseif outcome == 'cancelled' then new = 'cancelled' end
redis.call('ZREM', 'cb:claims', ref)
redis.call('RPUSH', 'cb:log:' .. ref, cjson.encode({at = tonumber(now), event = outcome,
  by = who}))
if new == 'waiting' then
  redis.call('HSET', t, 'status', 'waiting', 'mediator', '', 'claimed_at', '')
  redis.call('ZADD', 'cb:queue:' .. redis.call('HGET', t, 'lang'), redis.call('HGET', t, 'seq'),
    ref)
  return new
end
redis.call('ZREM', 'cb:queue:' .. redis.call('HGET', t, 'lang'), ref)
redis.call('HSET', t, 'status', new, 'closed_at', now)
local voice = redis.call('HGET', t, 'voice')
if voice and voice ~= '' then
  redis.call('ZADD', 'cb:recordings', tonumber(now) + tonumber(ARGV[6]), voice)
end
local open = 'cb:open:' .. redis.call('HGET', t, 'number_key')
if redis.call('GET', open) == ref then redis.call('DEL', open) end
redis.call('EXPIRE', t, ARGV[6])
redis.call('EXPIRE', 'cb:log:' .. ref, ARGV[6])
return new
"""


def new_ref() -> str:
    """A fresh random reference: six digits, easy to say in any language; never one of the
    spool's (which start with SPOOL_PREFIX)."""
    first = secrets.choice("0123456789".replace(SPOOL_PREFIX, ""))
    return first + "".join(secrets.choice("0123456789") for _ in range(REF_DIGITS - 1))


class TicketError(Exception):
    """The ticket cannot be changed that way (unknown, closed, claimed by someone else)."""


@dataclass(frozen=True)
class Ticket:
    """A callback request as stored; `number` stays encrypted until a claimant needs it."""

    ref: str
    lang: str
    topic: str
    status: str
    created: float
    attempts: int
    seq: int
    mediator: str
    number: str
    number_key: str
    voice: str
    claimed_at: float | None

    @classmethod
    def from_hash(cls, data: dict[str, str]) -> Ticket:
        get = data.get
        claimed = get("claimed_at") or ""
        return cls(
            ref=get("ref", ""), lang=get("lang", ""), topic=get("topic", ""),
            status=get("status", ""), created=float(get("created") or 0),
            attempts=int(get("attempts") or 0), seq=int(get("seq") or 0),
            mediator=get("mediator", ""), number=get("number", ""),
            number_key=get("number_key", ""), voice=get("voice", ""),
            claimed_at=float(claimed) if claimed else None,
        )


class CallbackQueue:
    """The tickets and queues in one Redis; each change that must be atomic is one Lua script.
    Requests, takes and outcomes are counted in `events` (when given)."""

    def __init__(self, r: TextRedis, claim_seconds: int = 20 * 60, max_attempts: int = 3,
                 events: Events | None = None):
        self.r = r
        self.events = events
        self.claim_seconds = claim_seconds
        self.max_attempts = max_attempts
        self._expire = r.register_script(_EXPIRE)
        self._take = r.register_script(_TAKE)
        self._request = r.register_script(_REQUEST)
        self._close = r.register_script(_CLOSE)

    def request(self, number_key: str, encrypted_number: str, lang: str, topic: str,
                sealed_note: str = "", now: float | None = None, request_id: str = "",
                ref: str | None = None) -> tuple[str, bool]:
        """Open a ticket (or join the number's open one); returns (ref, joined).

        `sealed_note` is the caller's note, already encrypted (Privacy.encrypt). `request_id`
        makes a replayed request (from the spool) take effect once; `ref` is the reference to use
        when it is free (the one the caller was already given)."""
        now = time.time() if now is None else now
        fields = ["lang", lang, "topic", topic, "number", encrypted_number,
                  "number_key", number_key, "mediator", "", "voice", ""]
        keys = [f"cb:open:{number_key}", f"cb:req:{request_id}", f"cb:by_number:{number_key}"]
        for _ in range(20):
            ref = ref or new_ref()
            got, joined = self._request(keys=keys, args=[ref, repr(now), RETENTION_SECONDS,
                                                         *fields])
            if int(joined) >= 0:
                ref = str(got)
                if self.events:
                    self.events.add(*events("cb_joined" if int(joined) else "cb_requested",
                                            lang, topic), now=now)
                if sealed_note:
                    self._log(ref, "note", "", now, sealed=sealed_note)
                return ref, bool(int(joined))
            ref = None
        raise RuntimeError("could not find a free reference")

    def take_next(self, mediator: str, langs: list[str], now: float | None = None) -> Ticket | None:
        """Claim the oldest waiting ticket in `langs` for `mediator`; None when none waits.
        Overdue claims go back to their place first; all of it in one round trip."""
        now = time.time() if now is None else now
        if not langs:
            return None
        counts = ["", "", ""]
        if self.events:  # one field per queue, in order (an odd language counts without it)
            counts = self.events.script_counts(
                *((events("cb_taken", lang) or events("cb_taken"))[0] for lang in langs),
                now=now)
        flat = self._take(keys=[f"cb:queue:{lang}" for lang in langs],
                          args=[repr(now), repr(now + self.claim_seconds), mediator, *counts])
        fields = dict(zip(flat[::2], flat[1::2], strict=True)) if flat else {}
        return Ticket.from_hash(fields) if fields else None

    def expire_claims(self, now: float | None = None) -> list[str]:
        """Put every overdue claim back at its original place; returns their refs."""
        now = time.time() if now is None else now
        return [str(ref) for ref in self._expire(args=[repr(now)])]

    def close(self, ref: str, outcome: str, mediator: str = "",
              now: float | None = None) -> str:
        """Record an outcome (reached, no_answer, wrong_number, referred, cancelled); returns
        the new status. `mediator` '' skips the check that they hold the claim."""
        if outcome not in (*OUTCOMES, "cancelled"):
            raise TicketError(f"unknown outcome {outcome!r}")
        now = time.time() if now is None else now
        result = str(self._close(args=[ref, repr(now), outcome, mediator, self.max_attempts,
                                   RETENTION_SECONDS]))
        if result.startswith("ERR"):
            raise TicketError(result[4:])
        if self.events:
            lang = self.r.hget(f"cb:ticket:{ref}", "lang") or ""
            closed = events("cb_closed", lang, result) if result != "waiting" else ()
            self.events.add(*events("cb_outcome", lang, outcome), *closed, now=now)
        return result

    def get(self, ref: str) -> Ticket | None:
        """The ticket `ref`, or None."""
        data = self.r.hgetall(f"cb:ticket:{ref}")
        return Ticket.from_hash(data) if data else None

    def open_ticket_of(self, number_key: str) -> Ticket | None:
        """The number's open ticket, if any."""
        ref = self.r.get(f"cb:open:{number_key}")
        ticket = self.get(ref) if ref else None
        return ticket if ticket and ticket.status in OPEN else None

    def add_note(self, ref: str, by: str, text: str, now: float | None = None) -> None:
        """Add a note to the ticket's history."""
        self._log(ref, "note", by, now, text=text[:1000])

    def attach_voice(self, ref: str, url: str, now: float | None = None) -> None:
        """Attach the caller's recorded message."""
        self.r.hset(f"cb:ticket:{ref}", "voice", url)
        self._log(ref, "voice message", "", now)

    def log_event(self, ref: str, event: str, by: str = "", now: float | None = None) -> None:
        """Add an event (a call placed, its result…) to the ticket's history."""
        self._log(ref, event, by, now)

    def recordings_due(self, now: float | None = None) -> list[str]:
        """Voice messages whose ticket closed RETENTION_SECONDS ago: taken off the list, to be
        deleted at Twilio."""
        now = time.time() if now is None else now
        pipe = self.r.pipeline()
        pipe.zrangebyscore("cb:recordings", "-inf", now)
        pipe.zremrangebyscore("cb:recordings", "-inf", now)
        due, _ = pipe.execute()
        return list(due)

    def history(self, ref: str) -> list[dict[str, object]]:
        """The ticket's events, oldest first."""
        return [json.loads(item) for item in self.r.lrange(f"cb:log:{ref}", 0, -1)]

    def waiting(self, lang: str) -> list[str]:
        """The refs waiting in `lang`, oldest first."""
        return list(self.r.zrange(f"cb:queue:{lang}", 0, -1))

    def stats(self, langs: list[str], now: float | None = None) -> dict[str, tuple[int, float]]:
        """For each language: (tickets waiting, seconds the oldest has waited)."""
        now = time.time() if now is None else now
        out = {}
        for lang in langs:
            count = self.r.zcard(f"cb:queue:{lang}")
            head = self.r.zrange(f"cb:queue:{lang}", 0, 0)
            oldest = self.get(head[0]) if head else None
            out[lang] = (count, now - oldest.created if oldest else 0.0)
        return out

    def claimed_by(self, mediator: str) -> list[Ticket]:
        """The tickets `mediator` holds now."""
        tickets = [self.get(ref) for ref in self.r.zrange("cb:claims", 0, -1)]
        return [t for t in tickets if t and t.mediator == mediator and t.status == "claimed"]

    def _log(self, ref: str, event: str, by: str, now: float | None, **extra: str) -> None:
        entry = {"at": time.time() if now is None else now, "event": event, "by": by, **extra}
        self.r.rpush(f"cb:log:{ref}", json.dumps(entry))
