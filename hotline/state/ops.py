"""Operational counters that /metrics reports, kept in Redis so that every process (web workers
and RQ workers, on any machine) adds to the same totals.

Keys (no expiry: a handful of fields that only grow, as Prometheus counters do):
- `ops:twilio_errors`   hash Twilio error code (or "network", "timeout") -> failed API requests
- `ops:outbox_retries`  hash "sms" / "call" -> failed send attempts (each retried by RQ while
                        retries remain)
"""

from __future__ import annotations

from hotline.state.client import TextRedis

TWILIO_ERRORS = "ops:twilio_errors"
OUTBOX_RETRIES = "ops:outbox_retries"


def count_failed_send(r: TextRedis, kind: str, twilio_code: str = "") -> None:
    """Count a failed attempt to send an SMS or place a call (`kind`), and the Twilio error code
    behind it, if any: one round trip."""
    pipe = r.pipeline(transaction=False)
    pipe.hincrby(OUTBOX_RETRIES, kind, 1)
    if twilio_code:
        pipe.hincrby(TWILIO_ERRORS, twilio_code, 1)
    pipe.execute()


def read(r: TextRedis) -> dict[str, dict[str, int]]:
    """{"twilio_errors": {code: count}, "outbox_retries": {kind: count}}."""
    pipe = r.pipeline(transaction=False)
    pipe.hgetall(TWILIO_ERRORS)
    pipe.hgetall(OUTBOX_RETRIES)
    errors, retries = pipe.execute()
    return {"twilio_errors": {k: int(v) for k, v in errors.items()},
            "outbox_retries": {k: int(v) for k, v in retries.items()}}
