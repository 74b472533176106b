"""Every Twilio webhook checks `X-Twilio-Signature` against the URL Twilio called, as Twilio's
validator (twilio-python's `RequestValidator`) does it:
- over the URL exactly as requested, its percent-encoding untouched (Twilio signs those bytes);
- a JSON body is covered by its SHA-256 in the URL's `bodySHA256`, checked against the raw body;
- with the auth token and HMAC-SHA1, or, when Twilio's `X-Twilio-Webhooks-Signature-Settings`
  header names an algorithm (a Webhooks SharedKey), with TWILIO_WEBHOOK_SHARED_KEY and that
  algorithm (HMAC-SHA256).
"""

from __future__ import annotations

import functools
import hmac
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit

from flask import Request, abort, current_app, request
from twilio.request_validator import (
    HMAC_SHA1,
    HMAC_SHA256,
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    get_signature_algorithm,
)

ALGORITHMS = (HMAC_SHA1, HMAC_SHA256)


def _raw_target(req: Request) -> str:
    """The path and query as the client sent them (gunicorn's and werkzeug's RAW_URI), below the
    app's root; rebuilt from the decoded parts only when the server does not say."""
    raw = req.environ.get("RAW_URI") or req.environ.get("REQUEST_URI")
    if raw:
        if not raw.startswith("/"):  # an absolute-form request target
            parts = urlsplit(raw)
            raw = parts.path + (f"?{parts.query}" if parts.query else "")
        raw = raw.encode("latin-1").decode("utf-8", "replace")  # WSGI's latin-1 strings
        root = quote(req.root_path)
        return raw[len(root):] if root and raw.startswith(root) else raw
    query = req.query_string.decode("latin-1")
    return quote(req.path) + (f"?{query}" if query else "")


def site_url(req: Request, public_base_url: str | None) -> str:
    """Where Twilio reaches this service, without a trailing slash: PUBLIC_BASE_URL (behind a
    proxy), else this request's scheme and host as the client sent them (werkzeug's `host_url`
    would turn the host into an IRI first, costing a webhook more than its HMAC)."""
    return public_base_url.rstrip("/") if public_base_url else f"{req.scheme}://{req.host}"


def public_url(req: Request, public_base_url: str | None) -> str:
    """The URL Twilio requested, percent-encoding untouched: PUBLIC_BASE_URL (behind a proxy) or
    this request's scheme, host and root, then the path and query as sent."""
    root = "" if public_base_url else quote(req.root_path)
    return site_url(req, public_base_url) + root + _raw_target(req)


def is_signed_by_twilio(req: Request, auth_token: str, public_base_url: str | None,
                        shared_key: str = "") -> bool:
    """True when the request carries a valid signature for this URL and these form fields (or
    this JSON body), by the auth token or, when Twilio's header says so, the shared key."""
    signature = req.headers.get("X-Twilio-Signature", "")
    settings_header = req.headers.get(SIGNATURE_SETTINGS_HEADER, "")
    secret = shared_key if settings_header else auth_token
    algorithm = get_signature_algorithm(settings_header).upper()
    if not signature or not secret or algorithm not in ALGORITHMS:
        return False
    url = public_url(req, public_base_url)
    validator = RequestValidator(secret)
    params: Any = req.form if req.method == "POST" else {}
    if "bodySHA256" in req.args:
        if req.mimetype != "application/json":
            return False  # Twilio hashes JSON bodies only; a form would go unchecked
        # the raw body; the validator checks its hash and signs the URL alone
        params = req.get_data(cache=True).decode("utf-8", "replace")
        return bool(validator.validate(url, params, signature, algorithm))
    expected = validator.compute_signature(url, params, algorithm)
    if hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
        return True  # the usual case, with one HMAC instead of the two `validate` computes
    # Twilio may sign with or without the port
    return bool(validator.validate(url, params, signature, algorithm))


def twilio_only(view: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a webhook: 403 unless Twilio signed the request (or insecure dev mode is on)."""

    @functools.wraps(view)
    def checked(*args: Any, **kwargs: Any) -> Any:
        settings = current_app.extensions["hotline"].settings
        if not settings.insecure_dev and not is_signed_by_twilio(
            request, settings.twilio_auth_token, settings.public_base_url,
            settings.twilio_webhook_shared_key,
        ):
            abort(403)
        return view(*args, **kwargs)

    return checked
