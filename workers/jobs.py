"""RQ jobs. Each builds the process's services once, from the same environment as the web."""

from __future__ import annotations

from hotline import config, outbox
from hotline.services import Services, build_services

_services: Services | None = None


def services() -> Services:
    """This worker process's services (content loaded and validated once)."""
    global _services
    if _services is None:
        _services = build_services(config.from_environment())
    return _services


def send_sms(to_token: str, body: str, key: str) -> str | None:
    """Send one SMS (see hotline.outbox.deliver); returns the Message SID or None."""
    return outbox.deliver(services(), to_token, body, key)
