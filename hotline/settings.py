"""Settings from the environment (names as in DESIGN.md), read and checked once at start-up.

`VARIABLES` is the one list of every setting: its environment variable, its default and what it
does; the README's settings table is written from it (`hotline settings`). A value that cannot be
read stops start-up with a `SettingsError` naming the variable.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hotline.callbacks.hours import HoursError, OpeningHours, parse_closed_days, parse_hours

PROJECT_ROOT = Path(__file__).resolve().parent.parent
IPNetwork = IPv4Network | IPv6Network


class SettingsError(ValueError):
    """A setting's value cannot be used; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    """Every setting of the service, typed. Build with `from_environment()`."""

    content_root: Path
    audio_root: Path
    var_dir: Path
    redis_url: str | None
    twilio_account_sid: str
    twilio_auth_token: str
    twilio_webhook_shared_key: str
    twilio_phone_number: str
    twilio_api_base_url: str
    public_base_url: str | None
    proxy_hops: int
    secret_key: str
    insecure_dev: bool
    sms_replies_per_hour: int
    callbacks_per_day: int
    opening_hours: str
    timezone: str
    closed_days: str
    claim_seconds: int
    max_attempts: int
    alert_after_seconds: int
    retry_base_seconds: float
    retry_max: int
    send_stale_seconds: float
    sms_daily_cap: int
    call_minutes_daily_cap: int
    countries: frozenset[str]
    missed_call_numbers: frozenset[str]
    missed_call_reply: str
    missed_callbacks_per_day: int
    missed_call_delay_seconds: float
    metrics_token: str
    metrics_allow: tuple[IPNetwork, ...]

    def opening_times(self) -> tuple[str, ...]:
        """The times of day callbacks start, as the line speaks them (rendered ahead)."""
        return self.hours().opening_times()

    def hours(self) -> OpeningHours:
        """The opening hours, public holidays and closure days, read."""
        return parse_hours(self.opening_hours, self.timezone, self.closed_days)

    def replace(self, **changes: Any) -> Settings:
        """A copy with `changes` (field names) applied."""
        return dataclasses.replace(self, **changes)


def _text(value: str) -> str:
    return value


def _optional(value: str) -> str | None:
    return value or None


def _flag(value: str) -> bool:
    if value not in ("", "0", "1"):
        raise ValueError("write 1 (on) or 0 (off)")
    return value == "1"


def _whole(value: str) -> int:
    if not (value.strip().isascii() and value.strip().isdigit()):
        raise ValueError("must be a whole number, 0 or more")
    return int(value)



def _minutes(value: str) -> int:
    return _whole(value) * 60


def _seconds(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ValueError("must be a number of seconds") from None
    if not number >= 0:
        raise ValueError("must not be negative")
    return number


def _countries(value: str) -> frozenset[str]:
    codes = frozenset(c for c in value.replace(" ", "").upper().split(",") if c)
    if not codes or any(len(c) != 2 or not c.isalpha() for c in codes):
        raise ValueError("write ISO country codes separated by commas, e.g. BE,NL")
    return codes


def _numbers(value: str) -> frozenset[str]:
    from hotline.state.privacy import normalize_number

    numbers = set()
    for part in filter(None, (p.strip() for p in value.split(","))):
        number = normalize_number(part) if part.startswith("+") else None
        if number is None:
            raise ValueError(f"cannot read {part!r}: write numbers as +32..., separated by commas")
        numbers.add(number)
    return frozenset(numbers)


def _reply(value: str) -> str:
    if value not in ("call", "sms"):
        raise ValueError("write call (the voice menu) or sms (the SMS menu)")
    return value


def _networks(value: str) -> tuple[IPNetwork, ...]:
    try:
        return tuple(ip_network(part.strip()) for part in value.split(",")
                     if part.strip() not in ("", "-"))
    except ValueError as exc:
        raise ValueError("write addresses or networks separated by commas, e.g. "
                         "127.0.0.1,10.0.0.0/8") from exc


def _zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError("unknown time zone (e.g. Europe/Brussels)") from exc
    return value


def _closed(value: str) -> str:
    try:
        parse_closed_days(value)
    except HoursError as exc:
        raise ValueError(str(exc)) from exc
    return value


def _hours(value: str) -> str:
    try:
        parse_hours(value, "UTC")
    except HoursError as exc:
        raise ValueError(str(exc)) from exc
    return value


@dataclass(frozen=True)
class Variable:
    """One environment variable: the field it sets, how it is read, its default, what it does."""

    env: str
    field: str
    read: Callable[[str], Any]
    default: str
    doc: str


VARIABLES: tuple[Variable, ...] = (
    Variable("REDIS_URL", "redis_url", _optional, "",
             "Redis to use; without it `hotline run` starts its own"),
    Variable("TWILIO_ACCOUNT_SID", "twilio_account_sid", _text, "",
             "account for outgoing SMS and calls"),
    Variable("TWILIO_AUTH_TOKEN", "twilio_auth_token", _text, "",
             "checks every webhook's signature; required (see HOTLINE_INSECURE_DEV)"),
    Variable("TWILIO_WEBHOOK_SHARED_KEY", "twilio_webhook_shared_key", _text, "",
             "secret of a Webhooks SharedKey, for webhooks Twilio signs with it (HMAC-SHA256)"),
    Variable("TWILIO_PHONE_NUMBER", "twilio_phone_number", _text, "",
             "the hotline's number: sender of SMS, caller ID of callbacks"),
    Variable("TWILIO_API_BASE_URL", "twilio_api_base_url", _text, "https://api.twilio.com",
             "Twilio's REST API (the local sandbox in development and tests)"),
    Variable("PUBLIC_BASE_URL", "public_base_url", _optional, "",
             "the URL Twilio calls, behind a proxy (signatures, absolute URLs)"),
    Variable("HOTLINE_PROXY_HOPS", "proxy_hops", _whole, "0",
             "reverse proxies in front of the service whose X-Forwarded-For/-Proto are trusted "
             "(0: none, the service faces clients itself)"),
    Variable("HOTLINE_SECRET_KEY", "secret_key", _text, "",
             "key for encrypting and hashing numbers; default: var/secret-key (made once)"),
    Variable("HOTLINE_INSECURE_DEV", "insecure_dev", _flag, "0",
             "1 turns signature checks off: local experiments only"),
    Variable("HOTLINE_CONTENT_ROOT", "content_root", Path, str(PROJECT_ROOT),
             "folder holding ivr_scripts/ and sms_templates/"),
    Variable("HOTLINE_AUDIO_ROOT", "audio_root", Path, "",
             "rendered audio and recordings (default: <content root>/audio_cache)"),
    Variable("HOTLINE_VAR_DIR", "var_dir", Path, str(PROJECT_ROOT / "var"),
             "local state: embedded Redis data, spool, keys"),
    Variable("HOTLINE_OPENING_HOURS", "opening_hours", _hours, "mon-fri 09:00-17:00",
             "when mediators call back, e.g. `mon-fri 09:00-17:00; sat 10:00-12:00`"),
    Variable("HOTLINE_TIMEZONE", "timezone", _zone, "Europe/Brussels",
             "time zone of the opening hours"),
    Variable("HOTLINE_CLOSED_DAYS", "closed_days", _closed, "",
             "closed besides Belgian public holidays: `07-11` every year, `2026-12-24` once"),
    Variable("HOTLINE_CLAIM_MINUTES", "claim_seconds", _minutes, "20",
             "a ticket taken but not closed goes back in line after this many minutes"),
    Variable("HOTLINE_MAX_ATTEMPTS", "max_attempts", _whole, "3",
             "unanswered callback attempts before a ticket closes (the caller gets an SMS)"),
    Variable("HOTLINE_ALERT_AFTER_MINUTES", "alert_after_seconds", _minutes, "60",
             "a ticket waiting this long with no active mediator of its language texts them"),
    Variable("HOTLINE_COUNTRIES", "countries", _countries, "BE",
             "countries whose numbers may get SMS and callbacks (ISO codes)"),
    Variable("HOTLINE_SMS_REPLIES_PER_HOUR", "sms_replies_per_hour", _whole, "20",
             "SMS replies to one number per hour (against SMS pumping)"),
    Variable("HOTLINE_CALLBACKS_PER_DAY", "callbacks_per_day", _whole, "5",
             "callback requests by SMS from one number per day"),
    Variable("HOTLINE_SMS_DAILY_CAP", "sms_daily_cap", _whole, "2000",
             "SMS sent per day, in all; past it admins are alerted and sending stops"),
    Variable("HOTLINE_CALL_MINUTES_DAILY_CAP", "call_minutes_daily_cap", _whole, "600",
             "minutes of calls the line places per day (mediators, missed-call callbacks), in all"),
    Variable("HOTLINE_MISSED_CALL_NUMBERS", "missed_call_numbers", _numbers, "",
             "the line's numbers that reject a call unanswered and call back (missed-call line)"),
    Variable("HOTLINE_MISSED_CALL_REPLY", "missed_call_reply", _reply, "call",
             "the missed-call line answers a ring by `call` (the voice menu) or `sms` (SMS menu)"),
    Variable("HOTLINE_MISSED_CALLBACKS_PER_DAY", "missed_callbacks_per_day", _whole, "3",
             "missed-call callbacks to one number per day"),
    Variable("HOTLINE_MISSED_CALL_DELAY_SECONDS", "missed_call_delay_seconds", _seconds, "20",
             "seconds from a ring to its callback in opening hours (rings meanwhile are one)"),
    Variable("HOTLINE_RETRY_BASE_SECONDS", "retry_base_seconds", _seconds, "10",
             "first retry delay of a failed Twilio request (doubles each time, with jitter)"),
    Variable("HOTLINE_RETRY_MAX", "retry_max", _whole, "6",
             "retries of a failed Twilio request before it is listed as failed"),
    Variable("HOTLINE_SEND_STALE_SECONDS", "send_stale_seconds", _seconds, "60",
             "a send claimed this long ago by a worker that died is checked at Twilio"),
    Variable("HOTLINE_METRICS_TOKEN", "metrics_token", _text, "",
             "a scraper sending `Authorization: Bearer <token>` may read /metrics"),
    Variable("HOTLINE_METRICS_ALLOW", "metrics_allow", _networks, "127.0.0.1,::1",
             "addresses or networks that may read /metrics without the token (none: `-`)"),
)
_BY_FIELD = {v.field: v for v in VARIABLES}


def from_environment(env: Mapping[str, str] | None = None) -> Settings:
    """The settings from `env` (default: os.environ); raises SettingsError naming a bad variable."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    for variable in VARIABLES:
        raw = env.get(variable.env, "") or variable.default
        values[variable.field] = _read(variable, raw)
    if not env.get("HOTLINE_AUDIO_ROOT"):
        values["audio_root"] = values["content_root"] / "audio_cache"
    return Settings(**values)


def with_overrides(settings: Settings, overrides: Mapping[str, Any]) -> Settings:
    """`settings` with overrides named by field, in any case (e.g. "REDIS_URL"); a text value
    for a typed field is read like its environment variable. Unknown names raise KeyError."""
    changes: dict[str, Any] = {}
    for name, value in overrides.items():
        variable = _BY_FIELD[name.lower()]
        needs_reading = isinstance(value, str) and variable.read not in (_text, _optional)
        changes[variable.field] = _read(variable, value) if needs_reading else value
    return settings.replace(**changes)


def is_setting(name: str) -> bool:
    """True when `name` (any case) names a field of Settings."""
    return name.lower() in _BY_FIELD


def _read(variable: Variable, raw: str) -> Any:
    try:
        return variable.read(raw)
    except ValueError as exc:
        raise SettingsError(f"{variable.env}={raw!r}: {exc}") from None


def from_environment_or_exit(env: Mapping[str, str] | None = None) -> Settings:
    """`from_environment()` for entry points: a bad value stops the process with one line naming
    the variable (exit status 2), not a traceback."""
    try:
        return from_environment(env)
    except SettingsError as exc:
        print(f"hotline: cannot start: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def table() -> str:
    """Every variable as a Markdown table (the README's settings table)."""
    rows = ["| variable | default | what it does |", "| --- | --- | --- |"]
    for v in VARIABLES:
        default = v.default.replace(str(PROJECT_ROOT), ".") if v.default else "(none)"
        rows.append(f"| `{v.env}` | `{default}` | {v.doc} |" if v.default else
                    f"| `{v.env}` | {default} | {v.doc} |")
    return "\n".join(rows)
