"""Opening hours of the callback service, per weekday, in the service's time zone.

Configured as HOTLINE_OPENING_HOURS, e.g. "mon-fri 09:00-17:00; sat 10:00-12:00" (days not named
are closed), in HOTLINE_TIMEZONE (default Europe/Brussels). Belgian public holidays (the `holidays`
library) and the days of HOTLINE_CLOSED_DAYS (the regional days, the CSO's own closures: "07-11"
every year, "2026-12-24" once) are closed too.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT = "mon-fri 09:00-17:00"
_PART = re.compile(r"^(?P<days>[a-z]{3}(?:-[a-z]{3})?(?:,[a-z]{3}(?:-[a-z]{3})?)*)\s+"
                   r"(?P<start>\d{1,2}:\d{2})-(?P<end>\d{1,2}:\d{2})$")


class HoursError(ValueError):
    """The opening hours setting cannot be read."""


@dataclass(frozen=True)
class OpeningHours:
    """For each weekday (0 = Monday), the (start, end) times the service is open, if any; and
    the days it is closed whatever the weekday: public holidays, `closed` dates ("2026-12-24")
    and yearly days ("07-11")."""

    days: tuple[tuple[dt.time, dt.time] | None, ...]
    zone: ZoneInfo
    closed: frozenset[str] = frozenset()
    country: str = "BE"

    def is_closed_day(self, day: dt.date) -> bool:
        """True on a public holiday or a closure day."""
        return (day in _public_holidays(self.country, day.year)
                or day.isoformat() in self.closed or day.strftime("%m-%d") in self.closed)

    def is_open(self, now: dt.datetime) -> bool:
        """True when `now` falls inside that day's hours."""
        local = now.astimezone(self.zone)
        span = self.days[local.weekday()]
        return (span is not None and span[0] <= local.time() < span[1]
                and not self.is_closed_day(local.date()))

    def opening_times(self) -> tuple[str, ...]:
        """Every time of day the service opens, as the line speaks it ("9:00"): the values the
        "when to expect the call" sentence may hold, rendered ahead of time."""
        return tuple(sorted({spoken_time(span[0]) for span in self.days if span},
                            key=lambda t: (len(t), t)))

    def next_opening(self, now: dt.datetime) -> dt.datetime | None:
        """When the service next opens after `now` (None if it never opens)."""
        local = now.astimezone(self.zone)
        for ahead in range(31):  # a long closure (Christmas to New Year) still finds its end
            day = local.date() + dt.timedelta(days=ahead)
            span = self.days[day.weekday()]
            if span is None or self.is_closed_day(day):
                continue
            opening = dt.datetime.combine(day, span[0], tzinfo=self.zone)
            if opening > local:
                return opening
        return None


def spoken_time(time: dt.time | dt.datetime) -> str:
    """A time as the line says it: "9:00", "13:30"."""
    return f"{time.hour}:{time.minute:02d}"


def parse_closed_days(text: str) -> frozenset[str]:
    """Read "07-11, 09-27, 2026-12-24" (yearly MM-DD or one YYYY-MM-DD); raise HoursError."""
    days = set()
    for part in filter(None, (p.strip() for p in text.split(","))):
        try:
            if len(part) == 5:
                dt.date.fromisoformat(f"2000-{part}")  # a leap year: 02-29 is a day too
            else:
                dt.date.fromisoformat(part)
        except ValueError:
            raise HoursError(f"cannot read the day {part!r}: write MM-DD or YYYY-MM-DD") from None
        days.add(part)
    return frozenset(days)


@functools.cache
def _public_holidays(country: str, year: int) -> frozenset[dt.date]:
    import holidays

    return frozenset(holidays.country_holidays(country, years=year))


def parse_hours(text: str, zone: str = "Europe/Brussels", closed: str = "") -> OpeningHours:
    """Read "mon-fri 09:00-17:00; sat 10:00-12:00" and the closure days; raise HoursError naming
    the bad part."""
    days: list[tuple[dt.time, dt.time] | None] = [None] * 7
    for part in filter(None, (p.strip().lower() for p in text.split(";"))):
        found = _PART.match(part)
        if not found:
            raise HoursError(f"cannot read {part!r}: write e.g. 'mon-fri 09:00-17:00'")
        try:
            start = dt.time.fromisoformat(found["start"].zfill(5))
            end = dt.time.fromisoformat(found["end"].zfill(5))
        except ValueError as exc:
            raise HoursError(f"cannot read the times in {part!r}") from exc
        if end <= start:
            raise HoursError(f"{part!r} closes before it opens")
        for group in found["days"].split(","):
            first, _, last = group.partition("-")
            if first not in DAYS or (last and last not in DAYS):
                raise HoursError(f"unknown day in {part!r}: use {', '.join(DAYS)}")
            a, b = DAYS.index(first), DAYS.index(last or first)
            for i in range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)]:
                days[i] = (start, end)
    return OpeningHours(tuple(days), ZoneInfo(zone), parse_closed_days(closed))
