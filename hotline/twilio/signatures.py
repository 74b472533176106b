"""Every Twilio webhook checks `X-Twilio-Signature` against the URL Twilio called."""

from __future__ import annotations

import functools
import hmac
from collections.abc import Callable
from typing import Any

from flask import Request, abort, current_app, request
from twilio.request_validator import RequestValidator


def public_url(req: Request, public_base_url: str | None) -> str:
    """The URL Twilio requested: PUBLIC_BASE_URL (behind a proxy) plus the path and query."""
    if not public_base_url:
        return req.url
    query = req.query_string.decode("latin-1")
    return public_base_url.rstrip("/") + req.path + (f"?{query}" if query else "")


def is_signed_by_twilio(req: Request, auth_token: str, public_base_url: str | None) -> bool:
    """True when the request carries a valid signature for this URL and these form fields."""
    signature = req.headers.get("X-Twilio-Signature", "")
    if not signature or not auth_token:
        return False
    params = req.form if req.method == "POST" else {}
    validator, url = RequestValidator(auth_token), public_url(req, public_base_url)
    if hmac.compare_digest(validator.compute_signature(url, params), signature):
        return True  # the usual case, with one HMAC instead of the two `validate` computes
    return validator.validate(url, params, signature)  # Twilio may sign with or without the port


def twilio_only(view: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a webhook: 403 unless Twilio signed the request (or insecure dev mode is on)."""

    @functools.wraps(view)
    def checked(*args: Any, **kwargs: Any) -> Any:
        settings = current_app.extensions["hotline"].settings
        if not settings.insecure_dev and not is_signed_by_twilio(
            request, settings.twilio_auth_token, settings.public_base_url
        ):
            abort(403)
        return view(*args, **kwargs)

    return checked
