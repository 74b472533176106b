"""The mediators' web console under /console/: log in, see the queues, take the next ticket, call
the caller through the hotline, record the outcome and notes. Every page needs a login."""

from __future__ import annotations

import functools
import logging
import secrets
from collections.abc import Callable
from typing import Any

import redis
import requests
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from rq.job import Job
from rq.registry import FailedJobRegistry
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from hotline.callbacks import outbox
from hotline.callbacks.queue import Ticket, TicketError
from hotline.callbacks.requests import record_outcome
from hotline.console import audit, i18n
from hotline.console.sessions import Sessions
from hotline.services import Services, job_queue
from hotline.twilio.signatures import site_url

log = logging.getLogger(__name__)
bp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates",
               static_folder="static")
OUTCOMES = (("reached", _l("Reached")), ("no_answer", _l("No answer")),
            ("wrong_number", _l("Wrong number")), ("referred", _l("Referred")))
CAPS = {"sms": _l("SMS"), "call minutes": _l("call minutes")}  # outbox.cap_status's kinds
# What the console shows for a ticket's status and for the events and audit entries it records
# (stored in English: the history and the audit log are records; unknown ones show as stored).
STATUSES = {"waiting": _l("waiting"), "claimed": _l("claimed"), "done": _l("done"),
            "unreachable": _l("unreachable"), "cancelled": _l("cancelled")}
EVENTS = {"note": _l("note"), "voice message": _l("voice message"),
          "call requested": _l("call requested"), "saw the number": _l("saw the number"),
          "called through the hotline": _l("called through the hotline"),
          "played the voice message": _l("played the voice message"),
          "got the number by SMS": _l("got the number by SMS")}
# Failed logins before a pause: per login, and per address (keys `login:fail:<login>` and
# `login:fail:@<address>`, FAILURE_WINDOW_SECONDS after the last attempt).
MAX_FAILURES = {"login": 5, "address": 20}
FAILURE_WINDOW_SECONDS = 15 * 60
# Ticket look-ups that found nothing this mediator may see, before a pause (`console:miss:<login>`).
MAX_MISSES = 20
MISS_WINDOW_SECONDS = 15 * 60
POLICY = ("default-src 'none'; style-src 'self'; img-src 'self'; media-src 'self'; "
          "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


def _services() -> Services:
    return current_app.extensions["hotline"]


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Send anyone without a live session (logged out, idle, over its lifetime, disabled since: see
    hotline.console.sessions) to the login page."""

    @functools.wraps(view)
    def checked(*args: Any, **kwargs: Any) -> Any:
        session_id = session.get("sid")
        login = Sessions(_services().redis).login_of(str(session_id)) if session_id else None
        mediator = _services().mediators.get(login) if login else None
        if mediator is None or not mediator.active:
            session.clear()
            return redirect(url_for("console.login", next=request.path))
        g.mediator = mediator
        _services().mediators.seen(mediator.login)
        return view(*args, **kwargs)

    return checked


def admin_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Logged in, and an admin."""

    @functools.wraps(view)
    def checked(*args: Any, **kwargs: Any) -> Any:
        if not g.mediator.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return login_required(checked)


@bp.errorhandler(redis.RedisError)
def redis_down(_: Exception) -> Response:
    """The console needs Redis; say so plainly (the voice line and SMS keep answering)."""
    log.error("console: Redis unreachable")
    return Response(render_template("console/unavailable.html"), status=503, mimetype="text/html")


# The console's own pages for the refusals a person may meet (a CSRF failure is a 400).
ERRORS = {
    400: (_l("Request not understood"), _l("If you sent a form, its page may have expired: go "
                                           "back, reload the page and try again.")),
    403: (_l("Not allowed"), _l("Your account may not open this page.")),
    404: (_l("Not found"), _l("There is nothing here, or it is not for your account.")),
    413: (_l("Too large"), _l("What you sent is too large.")),
    429: (_l("Too many tries"), _l("Too many tries in a short time. Wait a quarter of an hour "
                                   "and try again.")),
}


def error_page(error: HTTPException) -> Response | HTTPException:
    """A refusal of ERRORS as a console page in the console's language, with its status."""
    if error.code not in ERRORS:
        return error
    title, message = ERRORS[error.code]
    return Response(render_template("console/error.html", title=title, message=message),
                    status=error.code, mimetype="text/html")


def register_errors(blueprint: Blueprint) -> None:
    """Answer `blueprint`'s refusals with the console's error pages."""
    for code in ERRORS:
        blueprint.register_error_handler(code, error_page)


register_errors(bp)


@bp.after_request
def _headers(response: Response) -> Response:
    """No caching of pages with numbers; a strict content security policy; no framing."""
    response.headers["Content-Security-Policy"] = POLICY
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers.setdefault("Cache-Control", "no-store")
    if request.is_secure:
        response.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    return response


@bp.context_processor
def _common() -> dict[str, Any]:
    services = _services()
    en = services.sms.languages.get("en") or next(iter(services.sms.languages.values()))
    mine = services.sms.languages.get(i18n.language()) or en
    return {
        "mediator": g.get("mediator"),
        "names": {code: lang.name for code, lang in services.content.languages.items()},
        "topics": {**en.labels, **mine.labels, "other": _("Other")},
        "statuses": STATUSES,
        "events": EVENTS,
    }


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | BaseResponse:
    """The login form; on success, the queues (or the page asked for)."""
    if request.method == "GET":
        return render_template("console/login.html")
    r = _services().redis
    name = request.form.get("login", "").strip().lower()[:64]
    counters = {"login": f"login:fail:{name}", "address": f"login:fail:@{request.remote_addr}"}
    # Counted before the password is checked, in one transaction: parallel attempts each get
    # their own count, so no more than MAX_FAILURES of them are ever checked.
    pipe = r.pipeline()
    for key in counters.values():
        pipe.incr(key)
        pipe.expire(key, FAILURE_WINDOW_SECONDS)
    counts = dict(zip(counters, pipe.execute()[::2], strict=True))
    if any(int(counts[kind]) > MAX_FAILURES[kind] for kind in counters):
        return Response(render_template(
            "console/login.html", error=_("Too many failed attempts. Try again in 15 minutes.")),
            status=429)
    mediator = _services().mediators.check_password(name, request.form.get("password", ""))
    if mediator is None:
        return Response(render_template("console/login.html",
                                        error=_("Wrong login or password.")), status=401)
    pipe = r.pipeline()
    pipe.delete(counters["login"])
    pipe.decr(counters["address"])  # not a failure after all
    pipe.execute()
    session.clear()
    session["sid"] = Sessions(r).start(mediator.login)
    session.permanent = True
    return redirect(_safe_target(request.args.get("next", "")))


def _safe_target(target: str) -> str:
    """`target` when it is a console page of this site, else the queues."""
    safe = target.startswith("/console/") and target.isprintable() and "\\" not in target
    return target if safe else url_for("console.queues")


@bp.post("/logout")
@login_required
def logout() -> BaseResponse:
    """End the session, in every web process."""
    Sessions(_services().redis).end(str(session["sid"]))
    session.clear()
    with force_locale(i18n.FORMATS[i18n.browser_locale()]):  # the next page's language
        flash(_("You are logged out."))
    return redirect(url_for("console.login"))


@bp.get("/")
@login_required
def queues() -> str | BaseResponse:
    """Waiting tickets per language, and the tickets this mediator holds (an editor, who takes
    no calls, goes to the Content section)."""
    if not g.mediator.takes_calls:
        return redirect(url_for("content.index"))
    services = _services()
    langs = list(services.content.languages)
    return render_template("console/queues.html", stats=services.callbacks.stats(langs),
                           mine=services.callbacks.claimed_by(g.mediator.login))


@bp.post("/take")
@login_required
def take() -> BaseResponse:
    """Claim the oldest waiting ticket in this mediator's languages."""
    if not g.mediator.takes_calls:
        abort(403)
    ticket = _services().callbacks.take_next(g.mediator.login, list(g.mediator.languages))
    if ticket is None:
        flash(_("No ticket is waiting in your languages."))
        return redirect(url_for("console.queues"))
    return redirect(url_for("console.ticket", ref=ticket.ref))


def _ticket(ref: str) -> Ticket:
    """The ticket `ref` if this mediator may see it (admins: any; others: their languages', or one
    they hold), else 404 (unknown or not theirs: the same answer). Misses are counted per mediator
    (`console:miss:<login>`, MISS_WINDOW_SECONDS): past MAX_MISSES every look-up is 429 but for the
    tickets they hold, so references cannot be tried at speed."""
    services, me = _services(), g.mediator
    ticket = services.callbacks.get(ref)
    mine = ticket is not None and ticket.mediator == me.login
    misses = f"console:miss:{me.login}"
    if not mine and int(services.redis.get(misses) or 0) >= MAX_MISSES:
        abort(429)
    if ticket is None or not (mine or me.is_admin or ticket.lang in me.languages):
        pipe = services.redis.pipeline()
        pipe.set(misses, 0, ex=MISS_WINDOW_SECONDS, nx=True)  # the window opens at the first miss
        pipe.incr(misses)
        pipe.execute()
        abort(404)
    return ticket


def _holds(ticket: Ticket) -> bool:
    return ticket.status == "claimed" and ticket.mediator == g.mediator.login


@bp.get("/ticket/<ref>")
@login_required
def ticket(ref: str) -> str:
    """A ticket; its number only for the mediator who claimed it."""
    services = _services()
    found = _ticket(ref)
    mine = _holds(found)
    if mine:
        audit.record(services.redis, g.mediator.login, ref, "saw the number")
    history = [_event(e, mine) for e in services.callbacks.history(ref)]
    return render_template(
        "console/ticket.html", ticket=found, mine=mine, outcomes=OUTCOMES, history=history,
        number=services.privacy.decrypt(found.number) if mine else None,
        created=i18n.when(found.created), nonce=secrets.token_hex(8),
    )


def _event(entry: dict[str, object], mine: bool) -> dict[str, object]:
    """A history entry for the page: the caller's own (sealed) note opened for the claimant only."""
    shown = {**entry, "when": i18n.when(float(str(entry["at"])))}
    if entry.get("sealed"):
        shown["text"] = (_services().privacy.decrypt(str(entry["sealed"])) if mine
                         else _("(the caller's words: shown to the mediator who takes this "
                                "ticket)"))
    return shown


@bp.post("/ticket/<ref>/call")
@login_required
def call(ref: str) -> BaseResponse:
    """Ring the mediator's phone from the hotline; when they answer, Twilio dials the caller."""
    services = _services()
    found = _ticket(ref)
    if not _holds(found):
        abort(403)
    base = site_url(request, services.settings.public_base_url)
    nonce = "".join(c for c in request.form.get("nonce", "") if c.isalnum())[:32] or "x"
    outbox.queue_call(
        services, services.privacy.decrypt(g.mediator.phone),
        url=f"{base}{url_for('voice.bridge', ref=ref, m=g.mediator.login)}",
        status_callback=f"{base}{url_for('voice.bridge_status', ref=ref)}",
        key=f"bridge:{ref}:{nonce}",
    )
    services.callbacks.log_event(ref, "call requested", g.mediator.login)
    audit.record(services.redis, g.mediator.login, ref, "called through the hotline")
    flash(_("Your phone will ring: answer it, and the caller is dialled."))
    return redirect(url_for("console.ticket", ref=ref))


@bp.post("/ticket/<ref>/outcome")
@login_required
def outcome(ref: str) -> BaseResponse:
    """Record how the call went; the ticket closes, or goes back in line after no answer."""
    chosen = request.form.get("outcome", "")
    if chosen not in dict(OUTCOMES):
        abort(400)
    try:
        status = record_outcome(_services(), _ticket(ref).ref, chosen, g.mediator.login)
    except TicketError as exc:
        flash(_("Not recorded: %(reason)s.", reason=_ticket_error(str(exc))))
        return redirect(url_for("console.ticket", ref=ref))
    flash(_("Ticket %(ref)s: %(outcome)s, now %(status)s.", ref=ref,
            outcome=str(dict(OUTCOMES)[chosen]).lower(), status=STATUSES.get(status, status)))
    return redirect(url_for("console.queues"))


@bp.post("/ticket/<ref>/note")
@login_required
def note(ref: str) -> BaseResponse:
    """Add a note to the ticket's history."""
    text = request.form.get("text", "").strip()
    if not text:
        abort(400)
    _services().callbacks.add_note(_ticket(ref).ref, g.mediator.login, text)
    return redirect(url_for("console.ticket", ref=ref))


@bp.get("/ticket/<ref>/voice")
@login_required
def voice(ref: str) -> Response:
    """The caller's voice message, fetched from Twilio with the account's credentials."""
    services = _services()
    found = _ticket(ref)
    if not _holds(found) or not found.voice:
        abort(404)
    audit.record(services.redis, g.mediator.login, ref, "played the voice message")
    fetched = requests.get(f"{found.voice}.mp3", timeout=15, auth=(
        services.settings.twilio_account_sid, services.settings.twilio_auth_token))
    if fetched.status_code != 200:
        abort(502)
    return Response(fetched.content, mimetype="audio/mpeg",
                    headers={"Cache-Control": "private, no-store"})


@bp.get("/admin")
@admin_required
def admin() -> str:
    """Today's caps, the failed jobs (with a retry button) and the audit log."""
    services = _services()
    registry = FailedJobRegistry(queue=job_queue(services.rq))
    failed = []
    for job in Job.fetch_many(registry.get_job_ids(), connection=services.rq):
        if job is None:
            continue
        result = job.latest_result()
        error = (result.exc_string or "").strip().splitlines()[-1:] if result else []
        failed.append({"id": job.id, "description": job.description, "error": " ".join(error),
                       "when": i18n.when(job.ended_at.timestamp()) if job.ended_at else ""})
    entries = [{**e, "when": i18n.when(float(str(e["at"])))} for e in audit.recent(services.redis)]
    return render_template("console/admin.html", failed=failed, audit=entries,
                           caps=outbox.cap_status(services), cap_names=CAPS)


@bp.post("/admin/retry/<job_id>")
@admin_required
def retry(job_id: str) -> BaseResponse:
    """Put a failed job back in the queue."""
    registry = FailedJobRegistry(queue=job_queue(_services().rq))
    if job_id not in registry.get_job_ids():
        abort(404)
    registry.requeue(job_id)
    flash(_("The job is back in the queue."))
    return redirect(url_for("console.admin"))


@bp.post("/language")
@login_required
def language() -> BaseResponse:
    """Keep the console's language the mediator picked (the header's switcher), then back to the
    page they were on. 400 for a language the console does not speak."""
    chosen = request.form.get("locale", "")
    if chosen not in i18n.LOCALES:
        abort(400)
    _services().mediators.set_locale(g.mediator.login, chosen)
    return redirect(_safe_target(request.form.get("next", "")), code=303)


def _ticket_error(reason: str) -> str:
    """The reason a ticket refused an outcome (hotline.callbacks.queue), in the console's
    language."""
    if reason == "ticket is not claimed by you":
        return _("the ticket is not claimed by you")
    if reason.startswith("ticket is "):
        status = reason.removeprefix("ticket is ")
        return _("the ticket is %(status)s", status=STATUSES.get(status, status))
    return _("unknown ticket") if reason == "unknown ticket" else reason
