"""The Flask application: `create_app` builds the service (its blueprints, hooks and services)
from the settings. Imported by the web entry points only (hotline.wsgi, `hotline run`, tests):
the command line's other commands do not load Flask."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask, Request, Response, jsonify
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from hotline import settings as settings_module
from hotline.services import Services, build_services
from hotline.settings import Settings, SettingsError

__all__ = ["ConfigError", "Services", "Settings", "SettingsError", "create_app"]
log = logging.getLogger("hotline")
MAX_BODY_BYTES = 64 * 1024


class ConfigError(Exception):
    """The service cannot start with these settings."""


class WebhookFreeSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie session (it carries the console's session id), not opened for
    Twilio's webhooks: no cookie comes with them, and opening one was a good part of a webhook's
    time around the view."""

    def __init__(self, webhook_prefixes: tuple[str, ...]):
        self.webhook_prefixes = tuple(p.rstrip("/") for p in webhook_prefixes if p)

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        path = request.path
        if any(path == p or path.startswith(p + "/") for p in self.webhook_prefixes):
            return None  # Flask then uses its null session, which saves nothing
        return super().open_session(app, request)


def create_app(overrides: Mapping[str, Any] | None = None, *,
               settings: Settings | None = None) -> Flask:
    """Build the service from `settings` (default: the environment's).

    `overrides` replace settings by field name, in any case (e.g. {"REDIS_URL": …}); other names
    (e.g. TESTING) go to Flask's config. Raises ContentError for broken content, SettingsError or
    ConfigError for bad settings."""
    app = Flask("hotline")  # the package's name and folder, as before this module existed
    overrides = overrides or {}
    settings = settings_module.with_overrides(
        settings or settings_module.from_environment(),
        {k: v for k, v in overrides.items() if settings_module.is_setting(k)})
    app.config.update({k: v for k, v in overrides.items() if not settings_module.is_setting(k)})
    if not settings.twilio_auth_token and not settings.insecure_dev:
        raise ConfigError(
            "TWILIO_AUTH_TOKEN is not set, so Twilio's signatures cannot be checked. Set it, "
            "or set HOTLINE_INSECURE_DEV=1 for local development only (`hotline run` makes "
            "a local token for you)."
        )
    if settings.insecure_dev:
        log.warning("!" * 72)
        log.warning("INSECURE DEVELOPMENT MODE: Twilio signatures are NOT checked.")
        log.warning("Never expose this process to the internet.")
        log.warning("!" * 72)
    services = build_services(settings)
    app.extensions["hotline"] = services
    if settings.proxy_hops:
        # Behind that many proxies: trust the X-Forwarded-Proto (HTTPS-only checks and headers) and
        # the X-Forwarded-For entries they added, no more (the client's own would rotate the
        # address the console's login throttle counts). The host Twilio signs is
        # PUBLIC_BASE_URL's anyway.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=settings.proxy_hops, x_proto=settings.proxy_hops)
    app.config.update(
        # Refused (413) before the body is read or parsed: no webhook or console form comes near.
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        SECRET_KEY=services.privacy.session_secret,
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=8 * 3600,
    )

    from hotline import metrics
    from hotline.audio import media
    from hotline.console import content as content_console
    from hotline.console import i18n, reports
    from hotline.console import views as console
    from hotline.twilio import prompt_recording, sms, voice

    app.session_interface = WebhookFreeSessions((voice.bp.url_prefix or "",
                                                 sms.bp.url_prefix or ""))
    csrf = CSRFProtect(app)
    i18n.init_app(app)
    csrf.exempt(voice.bp)  # Twilio's webhooks prove themselves with their signature instead
    csrf.exempt(sms.bp)
    csrf.exempt(prompt_recording.bp)
    app.register_blueprint(voice.bp)
    app.register_blueprint(sms.bp)
    app.register_blueprint(prompt_recording.bp)
    app.register_blueprint(media.bp)
    app.register_blueprint(console.bp)
    app.register_blueprint(reports.bp)
    app.register_blueprint(metrics.bp)
    metrics.init_app(app, services)
    content_console.register(app)

    @app.after_request
    def _nosniff(response: Response) -> Response:
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    @app.get("/healthz")
    def healthz() -> Response:
        """Liveness: the voice line answers without Redis, so Redis is reported, not required
        (readiness: /readyz)."""
        return jsonify(status="ok", languages=list(services.content.languages),
                       redis=services.redis_status())

    return app
