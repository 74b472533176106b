"""Opening hours: weekdays, Belgian public holidays and the CSO's own closure days."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from hotline.callbacks.hours import parse_hours
from hotline.settings import SettingsError, from_environment

BRUSSELS = ZoneInfo("Europe/Brussels")


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=BRUSSELS)


def test_a_public_holiday_is_closed_and_the_call_is_promised_for_the_next_working_day():
    hours = parse_hours("mon-fri 09:00-17:00")
    easter_monday = at(2027, 3, 29, 10, 0)  # a Monday, Belgian public holiday
    assert not hours.is_open(easter_monday)
    assert hours.next_opening(easter_monday) == at(2027, 3, 30, 9, 0)
    christmas_eve_evening = at(2026, 12, 24, 18, 0)  # Thursday; Friday 25 is Christmas
    assert hours.next_opening(christmas_eve_evening) == at(2026, 12, 28, 9, 0)
    assert hours.is_open(at(2027, 3, 30, 10, 0))


def test_closure_days_of_the_cso_every_year_and_once():
    hours = parse_hours("mon-fri 09:00-17:00", closed="07-11, 2026-12-24")
    assert not hours.is_open(at(2025, 7, 11, 10, 0))  # Flemish Community day, a Friday
    assert hours.next_opening(at(2025, 7, 11, 10, 0)) == at(2025, 7, 14, 9, 0)
    assert not hours.is_open(at(2026, 12, 24, 10, 0))
    assert hours.is_open(at(2025, 12, 24, 10, 0))  # only in 2026


def test_the_setting_is_checked_at_start_up():
    assert from_environment({"HOTLINE_CLOSED_DAYS": "09-27"}).hours().is_closed_day(
        dt.date(2026, 9, 27))
    with pytest.raises(SettingsError, match="HOTLINE_CLOSED_DAYS"):
        from_environment({"HOTLINE_CLOSED_DAYS": "13-45"})
