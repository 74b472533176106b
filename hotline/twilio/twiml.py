"""Translate engine turns into TwiML, and positions into the URLs that carry them."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from twilio.twiml.voice_response import Gather, VoiceResponse

from hotline.audio.library import AudioLibrary
from hotline.content.ivr import CODE_DIGITS, Content
from hotline.engine.voice import Position, Turn, Utterance

STEP_PATH = "/voice/step"
RECORDING_PATH = "/voice/recording"
GATHER_TIMEOUT_SECONDS = 6
NUMBER_TIMEOUT_SECONDS = 10
RECORD_SECONDS = 60


def step_url(at: Position) -> str:
    """The relative URL that carries `at` to the next request."""
    params = {"node": at.node, "retry": str(at.retry)}
    if at.lang:
        params["lang"] = at.lang
    if at.ref:
        params["ref"] = at.ref
    if at.carry:
        params["carry"] = at.carry
    if at.step:
        params["step"] = at.step
    if at.goto:
        params["goto"] = at.goto
    return f"{STEP_PATH}?{urlencode(params)}"


def position_from(args: dict[str, str]) -> Position:
    """The position a step URL carried; nonsense values fall back to a fresh start."""
    retry = args.get("retry", "0")
    ref = args.get("ref", "")
    return Position(
        node=args.get("node", ""),
        lang=args.get("lang") or None,
        retry=int(retry) if retry.isascii() and retry.isdigit() and len(retry) < 3 else 0,
        ref=ref if ref.isascii() and ref.isdigit() and len(ref) < 12 else None,
        carry=args.get("carry", "")[:512] or None,
        step=args.get("step", "")[:16] or None,
        goto=args.get("goto", "")[:64] or None,
    )


def render(
    turn: Turn, content: Content, audio: AudioLibrary, audio_url: Callable[[str], str],
    listen_urls: Callable[[Position], tuple[str, str, str]] | None = None,
) -> str:
    """The TwiML document for `turn`: speak, then gather one key (or hang up).

    `listen_urls` gives (Gather action, Redirect after silence, method) for a position; by
    default both are the step URL, with POST (the static export uses files, with GET)."""
    response = VoiceResponse()
    if turn.listen is None:
        for utterance in turn.say:
            _speak(response, utterance, content, audio, audio_url)
        response.hangup()
        return str(response)
    url, silence, method = (listen_urls or _step_urls)(turn.listen)
    if turn.record:
        for utterance in turn.say:
            _speak(response, utterance, content, audio, audio_url)
        response.record(
            action=url, method="POST", max_length=RECORD_SECONDS, finish_on_key="#",
            timeout=5, play_beep=True,
            recording_status_callback=f"{RECORDING_PATH}?{urlencode({'ref': turn.listen.ref})}",
            recording_status_callback_method="POST",
        )
        response.redirect(url, method="POST")  # nothing was recorded: go on all the same
        return str(response)
    if turn.number_input:  # a phone number, ended by #
        gather = Gather(action=url, method=method, timeout=NUMBER_TIMEOUT_SECONDS,
                        finish_on_key="#", input="dtmf")
    elif turn.code_input:  # an item's shortcut code
        gather = Gather(action=url, method=method, num_digits=CODE_DIGITS,
                        timeout=GATHER_TIMEOUT_SECONDS, finish_on_key="", input="dtmf")
    else:
        gather = Gather(action=url, method=method, num_digits=1, timeout=GATHER_TIMEOUT_SECONDS,
                        finish_on_key="", input="dtmf")
    for utterance in turn.say:
        _speak(gather, utterance, content, audio, audio_url)
    response.append(gather)
    response.redirect(silence, method=method)  # no key within the timeout: the step, no Digits
    return str(response)


def _step_urls(at: Position) -> tuple[str, str, str]:
    url = step_url(at)
    return url, url, "POST"


def _speak(
    verb: VoiceResponse | Gather,
    utterance: Utterance,
    content: Content,
    audio: AudioLibrary,
    audio_url: Callable[[str], str],
) -> None:
    """Play the rendered or recorded files (one per piece, for an utterance with values), else
    <Say> in the language; never another language (a language that cannot be spoken is not
    offered, see `voice_ready`): at worst a pause."""
    files = [audio.find(utterance.lang, piece) for piece in utterance.pieces or (utterance.text,)]
    if all(files):
        for name in files:
            verb.play(audio_url(str(name)))
        return
    language = content.languages[utterance.lang]
    if language.say_language:
        verb.say(content.speech(utterance.lang, utterance.text),
                 language=language.say_language, voice=language.say_voice)
    else:
        verb.pause(length=1)
