"""Recording prompts by phone (`hotline.engine.recording`) on Twilio: the webhooks under
/voice/record/, the PIN check, and the job that fetches a kept take from Twilio, stores it as the
prompt's recording and deletes it at Twilio.

Keys:
- `rec:call:<CallSid>`  hash for one recording call, CALL_SECONDS: login, tries (wrong PINs),
                        authed (1 after the PIN), lang, number, take (RecordingSid), take_url
- `rec:pinfail:<login>` wrong PINs for that login across calls, PIN_WINDOW_SECONDS; at
                        MAX_PIN_FAILURES the PIN is not even checked until it expires
"""

from __future__ import annotations

import datetime as dt
import logging
import re

import redis
import requests
from flask import Blueprint, Response, abort, current_app, request, url_for
from twilio.base.exceptions import TwilioRestException
from twilio.twiml.voice_response import Gather, VoiceResponse

from hotline.audio.library import RECORDING
from hotline.callbacks import outbox
from hotline.console import audit
from hotline.console.mediators import Mediator
from hotline.engine import recording as flow
from hotline.services import Services, job_queue
from hotline.twilio.signatures import site_url, twilio_only

bp = Blueprint("prompt_recording", __name__, url_prefix="/voice/record")
log = logging.getLogger(__name__)
CALL_SECONDS = 3600
PIN_WINDOW_SECONDS = 15 * 60
MAX_PIN_FAILURES = 5
TIMEOUT_SECONDS = 10
ENGLISH = "en-GB"
RECORDING_SID = re.compile(r"RE[0-9a-f]{32}")
STEPS = (flow.PIN, flow.LANGUAGE, flow.NUMBER, flow.RECORD, flow.REVIEW)
# A take not kept (the editor hung up) is deleted at Twilio after this long in any case.
DELETE_TAKES_AFTER = dt.timedelta(hours=1)


def _services() -> Services:
    return current_app.extensions["hotline"]


def _langs(services: Services, editor: Mediator) -> tuple[str, ...]:
    return tuple(code for code in services.content.languages if editor.edits(code))


def begin(services: Services, caller: str, call_sid: str) -> Response | None:
    """The entry code was typed: the PIN question when `caller` is an active editor or admin
    who may record a language, else None (the line answers as for an unknown code, and says
    nothing of this flow)."""
    try:
        editor = services.mediators.by_phone(caller) if caller else None
        if editor is None or not _langs(services, editor) or not call_sid:
            return None
        key = f"rec:call:{call_sid}"
        pipe = services.redis.pipeline()
        pipe.delete(key)
        pipe.hset(key, mapping={"login": editor.login, "tries": "0", "authed": "0"})
        pipe.expire(key, CALL_SECONDS)
        pipe.execute()
    except redis.RedisError:  # the information line goes on without Redis; recording cannot
        log.warning("recording by phone: Redis unreachable")
        return None
    log.info("recording by phone: %s called in", editor.login)
    return _answer(services, flow.start(), {})


@bp.errorhandler(redis.RedisError)
def redis_down(_: Exception) -> Response:
    """Recording needs Redis: say so and end the call (the information line keeps answering)."""
    log.warning("recording by phone: Redis unreachable")
    response = VoiceResponse()
    response.say("Recording is not possible right now. Please call again later.",
                 language=ENGLISH)
    response.hangup()
    return Response(str(response), mimetype="text/xml")


@bp.post("/<step>")
@twilio_only
def webhook(step: str) -> Response:
    """One step of a recording call; the call's state is in Redis under its CallSid."""
    if step not in STEPS:
        abort(404)
    services = _services()
    key = f"rec:call:{request.form.get('CallSid', '')[:64]}"
    call = services.redis.hgetall(key)
    editor = services.mediators.get(call.get("login", "")) if call else None
    if editor is None or not editor.active:
        abort(403)
    if step != flow.PIN and call.get("authed") != "1":
        abort(403)
    services.redis.expire(key, CALL_SECONDS)
    digits = request.form.get("Digits")
    names = {code: lang.name for code, lang in services.content.languages.items()}
    langs = _langs(services, editor)
    lang = call.get("lang", "")
    number = int(call["number"]) if call.get("number", "").isdigit() else 0
    if step == flow.PIN:
        turn = _pin(services, key, editor, digits, langs, names)
    elif step == flow.LANGUAGE:
        turn = flow.after_language(langs, names, digits)
    elif lang not in langs:
        abort(403)
    elif step == flow.NUMBER:
        from hotline.audio.takes import numbered

        turn = flow.after_number(lang, digits, len(numbered(services.content, lang)))
    elif step == flow.RECORD:
        turn = _take(services, key, lang, number)
    else:
        turn = flow.after_review(lang, number, digits)
        if turn.keep or turn.discard:
            _settle(services, call, editor, keep=turn.keep)
            services.redis.hdel(key, "take", "take_url")
            call = services.redis.hgetall(key)
    if turn.lang:
        services.redis.hset(key, "lang", turn.lang)
    if turn.number:
        services.redis.hset(key, "number", str(turn.number))
    return _answer(services, turn, services.redis.hgetall(key), many=len(langs) > 9)


def _pin(services: Services, key: str, editor: Mediator, digits: str | None,
         langs: tuple[str, ...], names: dict[str, str]) -> flow.Turn:
    failures = f"rec:pinfail:{editor.login}"
    blocked = int(services.redis.get(failures) or 0) >= MAX_PIN_FAILURES
    right = not blocked and services.mediators.check_pin(editor.login, (digits or "").strip())
    if right:
        services.redis.hset(key, "authed", "1")
        services.redis.delete(failures)
        log.info("recording by phone: %s opened with the PIN", editor.login)
        return flow.after_pin(True, 0, langs, names)
    tries = services.redis.hincrby(key, "tries", 1)
    if not blocked:
        services.redis.incr(failures)
        services.redis.expire(failures, PIN_WINDOW_SECONDS)
    log.warning("recording by phone: wrong PIN for %s", editor.login)
    return flow.after_pin(False, flow.MAX_PIN_TRIES if blocked else tries, langs, names)


def _take(services: Services, key: str, lang: str, number: int) -> flow.Turn:
    """Twilio's <Record> action: note the take (and its deletion at Twilio within the hour)."""
    sid = request.form.get("RecordingSid", "")
    url = request.form.get("RecordingUrl", "")
    seconds = request.form.get("RecordingDuration", "0")
    recorded = bool(RECORDING_SID.fullmatch(sid) and url and seconds.isdigit()
                    and int(seconds) > 0)
    if RECORDING_SID.fullmatch(sid):
        from workers import jobs

        job_queue(services.rq).enqueue_in(DELETE_TAKES_AFTER, jobs.delete_recording, sid,
                                          description=f"delete take {sid}")
    if recorded:
        services.redis.hset(key, mapping={"take": sid, "take_url": url})
    return flow.after_take(lang, number, recorded)


def _settle(services: Services, call: dict[str, str], editor: Mediator, keep: bool) -> None:
    """Keep the take (a job fetches it) or delete it at Twilio."""
    from hotline.audio.takes import numbered
    from workers import jobs

    sid, lang = call.get("take", ""), call.get("lang", "")
    if not RECORDING_SID.fullmatch(sid):
        return
    if keep:
        prompt = dict(numbered(services.content, lang)).get(int(call.get("number") or 0))
        if prompt is None:
            return
        services.enqueue(jobs.keep_take, sid, lang, prompt.keys[0], prompt.text, editor.login,
                         retry=outbox.retry_policy(services),
                         description=f"keep take {sid} as {lang}/{prompt.keys[0]}")
    else:
        services.enqueue(jobs.delete_recording, sid, retry=outbox.retry_policy(services),
                         description=f"delete take {sid}")


def _answer(services: Services, turn: flow.Turn, call: dict[str, str],
            many: bool = False) -> Response:
    """`turn` as TwiML (`many`: more than nine languages to choose from, typed with hash)."""
    response = VoiceResponse()
    verb: VoiceResponse | Gather = response
    action = url_for("prompt_recording.webhook", step=turn.listen or flow.PIN)
    if turn.listen in (flow.PIN, flow.NUMBER) or (turn.listen == flow.LANGUAGE and many):
        verb = Gather(action=action, method="POST", finish_on_key="#", timeout=TIMEOUT_SECONDS,
                      input="dtmf", action_on_empty_result=True)
    elif turn.listen in (flow.LANGUAGE, flow.REVIEW):
        verb = Gather(action=action, method="POST", num_digits=1, timeout=TIMEOUT_SECONDS,
                      input="dtmf", action_on_empty_result=True)
    for line in turn.lines:
        _speak(services, verb, line, call)
    if verb is not response:
        response.append(verb)
    elif turn.listen == flow.RECORD:
        response.record(action=action, method="POST", max_length=flow.MAX_RECORD_SECONDS,
                        finish_on_key="#", play_beep=True, timeout=5, trim="trim-silence")
    else:
        response.hangup()
    return Response(str(response), mimetype="text/xml")


def _speak(services: Services, verb: VoiceResponse | Gather, line: flow.Line,
           call: dict[str, str]) -> None:
    if isinstance(line, flow.Say):
        verb.say(line.text, language=ENGLISH)
    elif isinstance(line, flow.TakeBack):
        if call.get("take_url"):
            verb.play(call["take_url"])
    else:
        _prompt_text(services, verb, line)


def _prompt_text(services: Services, verb: VoiceResponse | Gather, line: flow.PromptText) -> None:
    """The prompt's current text in the engine's voice (never the recording being replaced)."""
    from hotline.audio.build import read_manifest
    from hotline.audio.takes import numbered

    prompt = dict(numbered(services.content, line.lang)).get(line.number)
    if prompt is None:
        return
    entry = read_manifest(services.audio.root).get(prompt.id) or {}
    rendered = entry.get("rendered") if entry.get("engine") == RECORDING else entry
    name = str((rendered or {}).get("file") or "")
    language = services.content.languages[line.lang]
    base = site_url(request, services.settings.public_base_url)
    if name and entry.get("text") == prompt.text and (services.audio.root / name).is_file():
        verb.play(base + url_for("audio.file", name=name))
    elif language.say_language:
        verb.say(services.content.speech(line.lang, prompt.text),
                 language=language.say_language, voice=language.say_voice)
    else:
        verb.say("No voice reads this language yet: read the text from your script sheet.",
                 language=ENGLISH)


# --- the job --------------------------------------------------------------------------------------


def keep_take(services: Services, sid: str, lang: str, key: str, text: str,
              login: str) -> float | None:
    """Fetch the take `sid` from Twilio, keep it as the recording of prompt `key` (when its text
    is still `text`, the one the editor heard), and delete it at Twilio. Returns its length in
    seconds, or None when the text changed meanwhile (the take is not kept)."""
    from hotline.audio.config import load_audio_config
    from hotline.audio.takes import TakeError, prompt_named, store_take
    from hotline.twilio.rest import fetch_recording

    if not RECORDING_SID.fullmatch(sid):
        raise ValueError("not a recording SID")
    data = fetch_recording(services.settings, sid)
    prompt = prompt_named(services.content, lang, key)
    seconds = None
    if prompt is None or prompt.text != text:
        log.warning("take %s not kept: the text of %s/%s changed since it was read", sid, lang,
                    key)
    else:
        config = load_audio_config(services.settings.content_root)
        try:
            result = store_take(services.content, services.audio.root, config, prompt, data,
                                services.hours.opening_times())
        except TakeError as exc:
            log.warning("take %s not kept: %s", sid, exc)
        else:
            seconds = float((result.entry or {}).get("seconds") or 0)
            audit.record(services.redis, login, f"{lang}/{key}",
                         f"recorded by phone a recording ({seconds:.1f} s)")
    try:
        services.twilio.recordings(sid).delete()
    except (TwilioRestException, requests.RequestException) as exc:
        if getattr(exc, "status", None) != 404:
            log.warning("take %s: not deleted at Twilio yet (the hourly deletion follows)", sid)
    return seconds
