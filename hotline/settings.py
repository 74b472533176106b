"""Settings from the environment (names as in DESIGN.md), read once when the app is built."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def from_environment(env: dict[str, str] | None = None) -> dict[str, object]:
    """The app's configuration, from `env` (default: os.environ)."""
    env = dict(os.environ if env is None else env)
    root = Path(env.get("HOTLINE_CONTENT_ROOT") or PROJECT_ROOT)
    return {
        "CONTENT_ROOT": root,
        "AUDIO_ROOT": Path(env.get("HOTLINE_AUDIO_ROOT") or root / "audio_cache"),
        "VAR_DIR": Path(env.get("HOTLINE_VAR_DIR") or PROJECT_ROOT / "var"),
        "REDIS_URL": env.get("REDIS_URL") or None,
        "TWILIO_ACCOUNT_SID": env.get("TWILIO_ACCOUNT_SID", ""),
        "TWILIO_AUTH_TOKEN": env.get("TWILIO_AUTH_TOKEN", ""),
        "TWILIO_PHONE_NUMBER": env.get("TWILIO_PHONE_NUMBER", ""),
        "TWILIO_API_BASE_URL": env.get("TWILIO_API_BASE_URL", "https://api.twilio.com"),
        "PUBLIC_BASE_URL": env.get("PUBLIC_BASE_URL") or None,
        "SECRET_KEY": env.get("HOTLINE_SECRET_KEY", ""),
        "INSECURE_DEV": env.get("HOTLINE_INSECURE_DEV", "") == "1",
        "SMS_REPLIES_PER_HOUR": int(env.get("HOTLINE_SMS_REPLIES_PER_HOUR", "20")),
        "CALLBACKS_PER_DAY": int(env.get("HOTLINE_CALLBACKS_PER_DAY", "5")),
        "OPENING_HOURS": env.get("HOTLINE_OPENING_HOURS", "mon-fri 09:00-17:00"),
        "TIMEZONE": env.get("HOTLINE_TIMEZONE", "Europe/Brussels"),
        "CLAIM_SECONDS": int(env.get("HOTLINE_CLAIM_MINUTES", "20")) * 60,
        "MAX_ATTEMPTS": int(env.get("HOTLINE_MAX_ATTEMPTS", "3")),
        # Alert the mediators of a language when a ticket waits this long and none is active.
        "ALERT_AFTER_SECONDS": int(env.get("HOTLINE_ALERT_AFTER_MINUTES", "60")) * 60,
        "RETRY_BASE_SECONDS": float(env.get("HOTLINE_RETRY_BASE_SECONDS", "10")),
        "RETRY_MAX": int(env.get("HOTLINE_RETRY_MAX", "6")),
        "SEND_STALE_SECONDS": float(env.get("HOTLINE_SEND_STALE_SECONDS", "60")),
        "SMS_DAILY_CAP": int(env.get("HOTLINE_SMS_DAILY_CAP", "2000")),
        "CALL_MINUTES_DAILY_CAP": int(env.get("HOTLINE_CALL_MINUTES_DAILY_CAP", "600")),
        # Countries whose mobile numbers may receive SMS and callbacks (ISO codes, comma-separated).
        "COUNTRIES": frozenset(env.get("HOTLINE_COUNTRIES", "BE").replace(" ", "").split(",")),
    }
