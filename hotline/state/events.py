"""Anonymous events of the line, counted per day and hour: what the reports and charts read.

An event is a name, a language and what it was about (a menu or item name, a command, a topic,
an outcome, a menu level): never a phone number, a hash of one, a call's or message's identifier,
or anything a person typed. `Event` refuses values outside a small alphabet of names.

Keys (400 days each, in the service's time zone):
- `ev:<YYYYMMDD>`        hash "<HH>|<name>|<lang>|<what>" -> count
- `ev:wait:<YYYYMMDD>`   list of "<lang> <seconds>": how long each callback ticket waited before a
                         mediator first took it (for the median and 90th percentile); written by
                         the take's own script (hotline.callbacks.queue), as is its cb_taken
- `ev:call:<CallSid>`    hash lang, node, since, needs, depth: where a call in progress is (the
                         last position the line sent), 6 hours; deleted when the call ends. A
                         menu step's write reaches Redis up to 0.05 s later (deferred.py). It lets
                         one script per request count how deep each call went, whether an item was
                         heard to its end, and where the caller hung up.

Event names (EVENTS) and what `what` holds:
call (incoming call; ""), call_end (the node the caller was at when the call ended),
heard (a menu or item entered), item_done (an item heard to its end: the next key, or the
hang-up, came after its text had played), reached (the deepest menu level of a call: each call
counts once for each level up to its deepest; 0 is the language menu), code (an item's shortcut
code used: the item, or "unknown"), sms_by_voice (an item's SMS asked for during a call),
sms (an incoming SMS answered: the item, menu or command), sms_segments (segments sent in SMS
answers, counted by their number), cb_requested / cb_joined (a callback request opened a ticket or
joined the open one: the topic), cb_taken (a mediator took a ticket), cb_outcome (reached,
no_answer, wrong_number, referred, cancelled), cb_closed (the ticket's final status: done,
unreachable, cancelled), sms_undelivered (an SMS Twilio could not deliver).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from hotline.state.client import TextRedis
from hotline.state.deferred import DeferredWrites

KEEP_SECONDS = 400 * 24 * 3600
CALL_SECONDS = 6 * 3600
EVENTS = ("call", "call_end", "heard", "item_done", "reached", "code", "sms_by_voice", "sms",
          "sms_segments", "cb_requested", "cb_joined", "cb_taken", "cb_outcome", "cb_closed",
          "sms_undelivered")
# A language code, a node or topic name, a command, an outcome (a name: a letter first, no run of
# four digits, no space), or a menu level (one digit): never a number, a reference or a text.
_VALUE = re.compile(r"(?!.*[0-9]{4})[A-Za-z][A-Za-z0-9_-]{0,39}|[0-9]?")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    """One thing that happened: `name` (one of EVENTS), its language and what it was about;
    `count` is how much it adds (segments for sms_segments, else 1)."""

    name: str
    lang: str = ""
    what: str = ""
    count: int = 1

    def __post_init__(self) -> None:
        if self.name not in EVENTS:
            raise ValueError(f"unknown event {self.name!r}")
        for value in (self.lang, self.what):
            if not _VALUE.fullmatch(value):
                raise ValueError(f"not a name an event may hold: {value!r}")

    @property
    def field(self) -> str:
        """The hash field, without its hour."""
        return f"{self.name}|{self.lang}|{self.what}"


def events(name: str, lang: str = "", what: str = "", count: int = 1) -> tuple[Event, ...]:
    """The event, or none when a value is refused (a content name that does not fit: it is
    logged, and the request goes on)."""
    try:
        return (Event(name, lang, what, count),)
    except ValueError:
        log.warning("event %s not counted: a value is not a name", name)
        return ()


def _name(value: str, instead: str = "") -> str:
    return value if _VALUE.fullmatch(value) else instead


@dataclass(frozen=True)
class Count:
    """What `Events.read` returns: the events of one local day and hour."""

    day: dt.date
    hour: int
    name: str
    lang: str
    what: str
    count: int


# One request's events, and the call's position, in one round trip.
# KEYS[1]: ev:<day>, KEYS[2]: ev:call:<CallSid>, KEYS[3] (with a language op): the caller's
# language preference, `lang:<number key>` (hotline.state.sms).
# ARGV: day ttl, "<HH>|", now, call ttl, mode ("step", "end" or "none"), lang, node ('' = no
# position to keep), depth, needs (seconds the turn takes to speak the item's text; 0: not an
# item), language op ("", "set" or "recall"), its two values, then field/increment pairs.
# "set" keeps ARGV[12] as the preference for ARGV[11] seconds (a language chosen). "recall" (an
# incoming call) reads the preference: when it is one of the comma-separated languages ARGV[11],
# the call is at the main menu ARGV[12] in that language (level 1, heard), else at the position
# ARGV[6..9] the line answers without one; the preference is returned.
# At each step and at the end: the item the caller was at counts as heard to its end when its
# text has had time to play. A step keeps the new position and counts each menu level the call
# reaches for the first time; the end counts where the call was (once: the record is deleted).
_CALL = """
local day, h, now = KEYS[1], ARGV[2], tonumber(ARGV[3])
for i = 13, #ARGV, 2 do redis.call('HINCRBY', day, h .. ARGV[i], ARGV[i + 1]) end
local mode, lang, node, depth, needs = ARGV[5], ARGV[6], ARGV[7], tonumber(ARGV[8]), ARGV[9]
local op, recalled = ARGV[10], false
if op == 'set' then
  redis.call('SET', KEYS[3], ARGV[12], 'EX', ARGV[11])
elseif op == 'recall' then
  recalled = redis.call('GET', KEYS[3])
  if recalled and string.find(',' .. ARGV[11] .. ',', ',' .. recalled .. ',', 1, true) then
    lang, node, depth, needs = recalled, ARGV[12], 1, '0'
    redis.call('HINCRBY', day, h .. 'heard|' .. lang .. '|' .. node, 1)
  end
end
if mode ~= 'none' then
  local old = redis.call('HMGET', KEYS[2], 'lang', 'node', 'since', 'needs', 'depth')
  if old[2] and tonumber(old[4]) > 0 and now - tonumber(old[3]) >= tonumber(old[4]) then
    redis.call('HINCRBY', day, h .. 'item_done|' .. old[1] .. '|' .. old[2], 1)
  end
  if mode == 'end' then
    if old[2] then
      redis.call('HINCRBY', day, h .. 'call_end|' .. old[1] .. '|' .. old[2], 1)
      redis.call('DEL', KEYS[2])
    end
  elseif node ~= '' then
    local before = tonumber(old[5] or '-1')
    for level = before + 1, depth do
      redis.call('HINCRBY', day, h .. 'reached|' .. lang .. '|' .. level, 1)
    end
    if depth < before then depth = before end
    redis.call('HSET', KEYS[2], 'lang', lang, 'node', node, 'since', ARGV[3],
      'needs', needs, 'depth', depth)
    redis.call('EXPIRE', KEYS[2], ARGV[4])
  end
end
redis.call('EXPIRE', day, ARGV[1])
return recalled
"""


class Events:
    """The event counts in one Redis, days taken in `zone`."""

    def __init__(self, r: TextRedis, zone: dt.tzinfo = dt.UTC,
                 deferred: DeferredWrites | None = None):
        self.r = r
        self.zone = zone
        self.clock = time.time  # what "now" is when not given
        self._call = r.register_script(_CALL)
        # a step's counts and position (see `call_step`): the process's queue for `r`
        self.deferred = deferred or DeferredWrites(r)

    def _when(self, now: float | None) -> tuple[str, str, float]:
        now = self.clock() if now is None else now
        local = dt.datetime.fromtimestamp(now, self.zone)
        return local.strftime("%Y%m%d"), f"{local.hour:02d}|", now

    def tally(self, *events: Event, now: float | None = None) -> tuple[str, dict[str, int]]:
        """The day's key and the fields `events` add to (for a script that counts them in the
        same round trip as its own work: `hotline.state.sms.finish`)."""
        day, hour, _ = self._when(now)
        fields: dict[str, int] = {}
        for event in events:
            fields[hour + event.field] = fields.get(hour + event.field, 0) + event.count
        return f"ev:{day}", fields

    def script_counts(self, *events: Event, now: float | None = None) -> list[str]:
        """For a script that counts one of `events` in its own round trip (the callback queue's
        take): `ev:<day>`, `ev:wait:<day>`, their ttl, then each event's field."""
        day, hour, _ = self._when(now)
        return [f"ev:{day}", f"ev:wait:{day}", str(KEEP_SECONDS),
                *(hour + event.field for event in events)]

    def add(self, *events: Event, now: float | None = None) -> None:
        """Count `events` now (or at `now`): one pipelined round trip."""
        if not events:
            return
        day, hour, _ = self._when(now)
        pipe = self.r.pipeline(transaction=False)
        for event in events:
            pipe.hincrby(f"ev:{day}", hour + event.field, event.count)
        pipe.expire(f"ev:{day}", KEEP_SECONDS)
        pipe.execute()

    def call_step(self, call: str, events: Iterable[Event] = (), *, lang: str = "",
                  node: str = "", depth: int = 0, needs: float = 0.0,
                  end: bool = False, now: float | None = None,
                  remember: tuple[str, str, int] | None = None,
                  recall: tuple[str, Iterable[str], str] | None = None,
                  defer: bool = False) -> str | None:
        """Count a voice request's `events` and move call `call` (its CallSid, kept only in the
        6-hour record) to `node` at menu level `depth`, whose turn takes `needs` seconds to
        speak an item's text (0 when not an item); `end`: the call is over. One round trip.

        In the same round trip, `remember` = (preference key, language, seconds) keeps a chosen
        language; `recall` = (preference key, languages offered, main menu) reads it for an
        incoming call: when it is offered, the call is at that main menu in it, not at `node`.
        Returns the recalled preference, if any.

        `defer` (a write nothing in the answer depends on: no `recall`): queued in this process
        and sent in the background with other requests' (hotline.state.deferred), so the request
        makes no round trip; otherwise it is sent now, after what this process queued about the
        same call."""
        day, hour, now = self._when(now)
        pairs: list[Any] = []
        for event in events:
            pairs += [event.field, event.count]
        mode = "end" if end else ("step" if call else "none")
        lang, node = _name(lang), _name(node, "unnamed") if node else ""
        keys = [f"ev:{day}", f"ev:call:{call}"]
        op: list[Any] = ["", "", ""]
        if remember is not None:
            keys.append(remember[0])
            op = ["set", remember[2], remember[1]]
        elif recall is not None:
            keys.append(recall[0])
            op = ["recall", ",".join(_name(c) for c in recall[1]), _name(recall[2], "unnamed")]
        args = [KEEP_SECONDS, hour, repr(now), CALL_SECONDS, mode, lang, node, depth,
                round(needs, 1), *op, *pairs]
        if defer and recall is None:
            self.deferred.submit(self._call, keys, args, tag=call)
            return None
        return self.deferred.send(self._call, keys, args, tag=call) or None

    def read(self, first: dt.date, last: dt.date) -> list[Count]:
        """Every count from day `first` to day `last` (local days, both included), this
        process's deferred writes sent first."""
        self.deferred.flush()
        days = list(_days(first, last))
        pipe = self.r.pipeline(transaction=False)
        for day in days:
            pipe.hgetall(f"ev:{day:%Y%m%d}")
        out = []
        for day, fields in zip(days, pipe.execute(), strict=True):
            for field, value in sorted(fields.items()):
                hour, name, lang, what = field.split("|", 3)
                out.append(Count(day, int(hour), name, lang, what, int(value)))
        return out

    def waits(self, first: dt.date, last: dt.date) -> list[tuple[dt.date, str, int]]:
        """(day, language, seconds) of each ticket first taken from day `first` to `last`."""
        days = list(_days(first, last))
        pipe = self.r.pipeline(transaction=False)
        for day in days:
            pipe.lrange(f"ev:wait:{day:%Y%m%d}", 0, -1)
        out = []
        for day, entries in zip(days, pipe.execute(), strict=True):
            for entry in entries:
                lang, seconds = entry.split(" ", 1)
                out.append((day, lang, int(seconds)))
        return out


def _days(first: dt.date, last: dt.date) -> Iterator[dt.date]:
    day = first
    while day <= last:
        yield day
        day += dt.timedelta(days=1)
