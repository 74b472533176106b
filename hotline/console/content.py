"""The console's Content section (editors and admins): each language's prompts with their text,
English source, review status (from the review ledger, `hotline.content.reviews`; a reviewer marks
a text reviewed here), what the line plays (a person's recording, the engine's voice, a
stale recording, nothing) and how long; a prompt's page with a player, an upload and a recorder;
a printable script sheet for recording sessions. Every recording kept is in the audit log.

An upload may be larger than a webhook (MAX_UPLOAD_BYTES instead of the app's 64 kB): the limit is
raised for that one view before its body is read, and its CSRF token is checked after that.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis
from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response as BaseResponse

from hotline.audio.build import RECORDING, Prompt, read_manifest
from hotline.audio.library import find_recordings
from hotline.console import audit, views
from hotline.content.files import ContentError, Problem
from hotline.content.reviews import (
    VOICE,
    ReviewError,
    TextReview,
    read_ledger,
    review_states,
    text_hash,
)
from hotline.services import Services

log = logging.getLogger(__name__)
bp = Blueprint("content", __name__, url_prefix="/console/content", template_folder="templates")
MAX_UPLOAD_BYTES = 16 * 1024 * 1024  # three minutes of a phone's WAV; compressed takes are far less
# The console's policy, plus its own scripts (the recorder), their requests, and the recorder's
# preview, which plays from a blob: URL.
POLICY = views.POLICY.replace("media-src 'self'", "media-src 'self' blob:") + (
    "; script-src 'self'; connect-src 'self'")
AUDIO_STATES = {
    "recording": _l("a person's recording"),
    "engine": _l("engine voice"),
    "stale": _l("recording of an older text: engine voice plays"),
    "missing": _l("no audio"),
}
# Why a take is refused (hotline.audio.takes.TakeError, in English for the command line), as the
# console says it; a reason not listed shows as it is.
TAKE_ERRORS = {
    "the file holds no sound": _l("the file holds no sound"),
    "not a sound file this line can read (WAV, MP3, OGG, M4A, WebM)":
        _l("not a sound file this line can read (WAV, MP3, OGG, M4A, WebM)"),
    "too short to be a prompt": _l("too short to be a prompt"),
    "the recording was stored but the prompt's text changed meanwhile":
        _l("the recording was stored but the prompt's text changed meanwhile"),
    "the recording could not be converted": _l("the recording could not be converted"),
}
# The review states and kinds of hotline.content.reviews, as the pages name them.
REVIEW_NAMES = {"draft": _l("draft"), "reviewed": _l("reviewed"), "stale": _l("stale"),
                "language": _l("language"), "legal": _l("legal")}


def _services() -> Services:
    return current_app.extensions["hotline"]


def register(app: Flask) -> None:
    """Add the Content section to `app` (after CSRFProtect: the upload checks its own token)."""
    app.register_blueprint(bp)
    app.extensions["csrf"].exempt(upload)


def editor_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Logged in as an editor or admin, and (for a `lang` in the URL) allowed that language."""

    @functools.wraps(view)
    def checked(*args: Any, **kwargs: Any) -> Any:
        lang = kwargs.get("lang")
        if lang is not None and lang not in _services().content.languages:
            abort(404)
        if not any(g.mediator.edits(code) for code in _services().content.languages):
            abort(403)
        if lang is not None and not g.mediator.edits(lang):
            abort(403)
        return view(*args, **kwargs)

    return views.login_required(checked)


bp.register_error_handler(redis.RedisError, views.redis_down)
views.register_errors(bp)


@bp.after_request
def _headers(response: Response) -> Response:
    response = views._headers(response)
    response.headers["Content-Security-Policy"] = POLICY
    return response


@bp.context_processor
def _common() -> dict[str, Any]:
    return {**views._common(), "review_names": REVIEW_NAMES, "seconds_text": seconds_text,
            "review_kinds": lambda kinds: ", ".join(str(REVIEW_NAMES.get(k, k)) for k in kinds)}


def seconds_text(seconds: float) -> str:
    """A duration in seconds to a tenth, in the console's language ("3,5" in French)."""
    return format_decimal(round(seconds, 1), "0.0")


@dataclass(frozen=True)
class Row:
    """One prompt as the Content pages show it."""

    number: int
    key: str
    text: str
    english: str
    status: str
    audio: str  # a key of AUDIO_STATES
    file: str | None  # what callers hear now (under /audio/)
    seconds: float | None
    review: TextReview | None = None  # None: not a prompt of the language file (a piece)

    @property
    def todo(self) -> bool:
        """Not yet in a person's voice with its current text."""
        return self.audio != "recording"


def rows(services: Services, lang: str) -> list[Row]:
    """Every prompt of `lang`, numbered as `hotline audio script` numbers them."""
    from hotline.audio.takes import numbered

    content, library = services.content, services.audio
    manifest = read_manifest(library.root)
    takes = {t.key: t for t in find_recordings(library.root) if t.lang == lang}
    language = content.languages[lang]
    states = review_states_now(services, lang)
    found = []
    for number, prompt in numbered(content, lang):
        key = prompt.keys[0]
        playing = library.find(lang, prompt.text)
        entry = manifest.get(prompt.id) or {}
        take = takes.get(key)
        if playing and entry.get("engine") == RECORDING and entry.get("file") == playing:
            audio = "recording"
        elif take is not None and not take.matches(prompt.text):
            audio = "stale"
        else:
            audio = "engine" if playing else "missing"
        review = states.get(key)
        found.append(Row(number, key, prompt.text, _english(services, key),
                         review.state if review else language.status, audio, playing,
                         library.seconds(lang, prompt.text), review))
    return found


def review_states_now(services: Services, lang: str) -> dict[str, TextReview]:
    """The review state of each prompt of `lang` from its ledger as it is on disk now (the
    loaded content's states date from start-up; a review made here shows at once)."""
    problems: list[Problem] = []
    reviews = read_ledger(services.settings.content_root, VOICE, lang, problems)
    return review_states(services.content.languages[lang].prompts, reviews,
                         services.content.fact_prompts())


def _english(services: Services, key: str) -> str:
    """The English text of prompt `key`; a prompt filled in at call time ("{digit}") as its
    template."""
    english = services.content.languages.get("en")
    try:
        return services.content.text("en", key)
    except (KeyError, ValueError):
        return english.prompts.get(key, "") if english else ""


def _row(lang: str, key: str) -> Row:
    found = next((r for r in rows(_services(), lang) if r.key == key), None)
    if found is None:
        abort(404)
    return found


@bp.get("/")
@editor_required
def index() -> str:
    """The languages this account may edit, with what each still needs."""
    services = _services()
    summary = []
    for lang in services.content.languages:
        if g.mediator.edits(lang):
            found = rows(services, lang)
            counts = {state: sum(r.audio == state for r in found) for state in AUDIO_STATES}
            summary.append({"lang": lang, "prompts": len(found), **counts})
    return render_template("content/index.html", summary=summary, states=AUDIO_STATES)


@bp.get("/<lang>")
@editor_required
def language(lang: str) -> str:
    """A language's prompts: text, English source, status, audio source and duration."""
    return render_template("content/language.html", lang=lang, rows=rows(_services(), lang),
                           states=AUDIO_STATES)


@bp.get("/<lang>/script")
@editor_required
def script(lang: str) -> str:
    """The script sheet for a recording session, to print: every prompt's number and text, the
    ones still to record marked (`?todo=1`: only those)."""
    found = rows(_services(), lang)
    todo = request.args.get("todo") == "1"
    return render_template("content/script.html", lang=lang, todo=todo, states=AUDIO_STATES,
                           rows=[r for r in found if r.todo or not todo],
                           left=sum(r.todo for r in found), total=len(found))


@bp.get("/<lang>/<key>")
@editor_required
def prompt(lang: str, key: str) -> str:
    """One prompt: its texts, its reviews, what callers hear, an upload form and the browser
    recorder."""
    return _prompt_page(lang, key)


@bp.post("/<lang>/<key>/recording")
@editor_required
def upload(lang: str, key: str) -> BaseResponse:
    """Keep an uploaded or browser-made take as the prompt's recording; it plays at once."""
    from hotline.audio.takes import TakeError, prompt_named

    request.max_content_length = MAX_UPLOAD_BYTES
    current_app.extensions["csrf"].protect()
    services = _services()
    found = prompt_named(services.content, lang, key)
    if found is None:
        abort(404)
    sent = request.files.get("audio")
    if sent is None or not sent.filename:
        return _refuse(lang, key, _("Choose a sound file first."))
    try:
        result = _store(services, found, sent.read())
    except TakeError as exc:
        return _refuse(lang, key, _("Not kept: %(reason)s.", reason=_take_error(str(exc))))
    seconds = (result.entry or {}).get("seconds", 0)
    how = "recorded in the browser" if request.form.get("source") == "browser" else "uploaded"
    audit.record(services.redis, g.mediator.login, f"{lang}/{key}",
                 f"{how} a recording ({seconds:.1f} s)")
    log.info("content: %s %s a recording of %s/%s", g.mediator.login, how, lang, key)
    message = _("Kept: callers hear your recording of %(key)s now (%(seconds)s s).", key=key,
                seconds=seconds_text(seconds))
    target = url_for("content.prompt", lang=lang, key=key)
    flash(message)
    if _wants_json():
        return jsonify(ok=True, message=message, next=target)
    return redirect(target, code=303)


@bp.post("/<lang>/<key>/review")
@editor_required
def review(lang: str, key: str) -> BaseResponse:
    """Mark the prompt's current text reviewed (language, or legal for a text stating facts)
    in the review ledger, in the reviewer's name; refused when the text on disk is no longer the
    one this page showed."""
    from hotline.content.catalog import record_review
    from hotline.content.ivr import load_content

    services = _services()
    row = _row(lang, key)
    kind = request.form.get("kind", "")
    by = " ".join(request.form.get("by", "").split())[:80]
    if row.review is None or kind not in row.review.needs:
        abort(400)
    if not by:
        return _refuse(lang, key, _("Not recorded: write the reviewer's name."))
    root = services.settings.content_root
    shown = request.form.get("sha256", "")
    try:
        on_disk = load_content(root).languages[lang].prompts.get(key)
    except ContentError:
        log.warning("content: a review refused, the content files do not load")
        return _refuse(lang, key, _("Not recorded: the content files are being changed and "
                                    "do not load. Try again later."), status=409)
    if shown != text_hash(services.content.languages[lang].prompts[key]) or (
            on_disk is None or text_hash(on_disk) != shown):
        return _refuse(lang, key, _("Not recorded: the text has changed since this page "
                                    "was loaded. Read it again."), status=409)
    try:
        done, state = record_review(root, lang, VOICE, key, kind, by)
    except (ReviewError, ContentError) as exc:
        return _refuse(lang, key, _("Not recorded: %(reason)s.", reason=exc))
    audit.record(services.redis, g.mediator.login, f"{lang}/{key}",
                 f"marked reviewed ({kind}) by {done.by}")
    flash(_("Recorded: %(kind)s review by %(by)s. The text is now %(state)s.",
            kind=REVIEW_NAMES.get(kind, kind), by=done.by,
            state=REVIEW_NAMES.get(state.state, state.state)))
    return redirect(url_for("content.prompt", lang=lang, key=key), code=303)


def _take_error(reason: str) -> str:
    """A TakeError's reason in the console's language."""
    longer = re.fullmatch(r"longer than (\d+) seconds", reason)
    if longer:
        return _("longer than %(seconds)s seconds", seconds=longer.group(1))
    return str(TAKE_ERRORS.get(reason, reason))


def _store(services: Services, found: Prompt, data: bytes) -> Any:
    from hotline.audio.config import load_audio_config
    from hotline.audio.takes import store_take

    config = load_audio_config(services.settings.content_root)
    return store_take(services.content, services.audio.root, config, found, data,
                      services.hours.opening_times())


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


def _refuse(lang: str, key: str, message: str, status: int = 400) -> BaseResponse:
    if _wants_json():
        response = jsonify(ok=False, message=message)
        response.status_code = status
        return response
    return Response(_prompt_page(lang, key, error=message), status=status, mimetype="text/html")


def _prompt_page(lang: str, key: str, **extra: Any) -> str:
    row = _row(lang, key)
    sha = text_hash(_services().content.languages[lang].prompts[key]) if row.review else ""
    return render_template("content/prompt.html", lang=lang, row=row, states=AUDIO_STATES,
                           limit_mb=MAX_UPLOAD_BYTES // 2**20, sha256=sha, **extra)

