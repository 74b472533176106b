"""Recording prompts by phone, end to end: an editor calls from their registered phone, types #00
and their PIN, a prompt's number, hears its text, records, listens back, records again, keeps;
an RQ worker fetches the take from the Twilio sandbox, keeps it as the prompt's recording and
deletes it at Twilio; the line plays it. Every request is signed as Twilio signs it."""

from __future__ import annotations

import secrets
import xml.etree.ElementTree as ET
from urllib.parse import urlsplit

import pytest

from hotline.audio.build import RECORDING, read_manifest
from hotline.audio.library import text_id
from hotline.audio.takes import numbered, prompt_named
from hotline.console import audit
from hotline.content.ivr import load_content
from hotline.engine import recording as flow
from tests.helpers import PASSWORD, PUBLIC, run_jobs, said, sign, twilio_post, twiml
from tests.test_audio_takes import encode, speech

EVA_PHONE = "+32470999666"
PIN = "4321"


@pytest.fixture
def eva(services, mediators):
    """eva edits French and has a PIN; amina and bram are mediators."""
    services.mediators.add("eva", "Eva", ["fr"], EVA_PHONE, PASSWORD, role="editor")
    services.mediators.set_pin("eva", PIN)


class Phone:
    """One call to the line from `number`, each answer's next action followed, all signed."""

    def __init__(self, client, number: str):
        self.client = client
        self.number = number
        self.sid = "CA" + secrets.token_hex(16)
        self.root = twiml(self._post("/voice", {}))

    def _post(self, path: str, params: dict[str, str]):
        return twilio_post(self.client, path, {"From": self.number, "CallSid": self.sid,
                                               **params})

    @property
    def action(self) -> str:
        for verb in self.root.iter():
            if verb.tag in ("Gather", "Record"):
                url = urlsplit(verb.get("action"))
                return url.path + (f"?{url.query}" if url.query else "")
        raise AssertionError("the line does not listen: " + ET.tostring(self.root).decode())

    def press(self, digits: str | None) -> ET.Element:
        self.root = twiml(self._post(self.action, {} if digits is None else {"Digits": digits}))
        return self.root

    def record(self, sid: str, url: str, seconds: int = 3) -> ET.Element:
        assert self.root.find("Record") is not None
        self.root = twiml(self._post(self.action, {"RecordingSid": sid, "RecordingUrl": url,
                                                   "RecordingDuration": str(seconds)}))
        return self.root


def plays(root: ET.Element) -> list[str]:
    return [p.text or "" for p in root.iter("Play")]


def test_an_editor_records_a_prompt_by_phone_end_to_end(app, services, eva, sandbox,
                                                        twilio_env):
    welcome = prompt_named(services.content, "fr", "welcome")
    number = next(n for n, p in numbered(services.content, "fr") if p.keys[0] == "welcome")
    phone = Phone(app.test_client(), EVA_PHONE)
    phone.press("#")
    assert "Type your PIN" in " ".join(said(phone.press(flow.ENTRY_CODE)))
    assert "Wrong PIN" in " ".join(said(phone.press("1111")))
    asked = said(phone.press(PIN))
    assert "Type the number of the prompt" in " ".join(asked)  # one language: no choice
    assert "no prompt 999" in " ".join(said(phone.press("999"))).lower()
    heard = phone.press(str(number))
    assert said(heard)[0] == f"Prompt {number}. The text is:"
    assert welcome.text in said(heard)  # no audio rendered here: Twilio's French voice reads it
    record = heard.find("Record")
    assert record is not None and record.get("finishOnKey") == "#"
    assert record.get("playBeep") == "true"

    first_sid, first_url = sandbox.add_recording_media(
        encode(speech("Hello.", rate=8000), "wav", "pcm_s16le"))
    review = phone.record(first_sid, first_url)
    assert plays(review) == [first_url]  # the take played back
    assert "To keep it, press 1" in " ".join(said(review))
    again = phone.press("2")  # record again: the text, then the beep
    assert welcome.text in said(again) and again.find("Record") is not None
    take_sid, take_url = sandbox.add_recording_media(
        encode(speech(welcome.text, rate=8000), "wav", "pcm_s16le"))
    assert plays(phone.record(take_sid, take_url)) == [take_url]
    kept = phone.press("1")
    assert "Kept." in " ".join(said(kept)) and "Type the number" in " ".join(said(kept))

    run_jobs(twilio_env)  # fetch, convert, keep, delete at Twilio
    entry = read_manifest(services.audio.root)[text_id("fr", welcome.text)]
    assert entry["engine"] == RECORDING and entry["source"] == "recordings/fr/welcome.flac"
    sidecar = services.audio.root / "recordings" / "fr" / "welcome.txt"
    assert sidecar.read_text(encoding="utf-8") == welcome.text + "\n"
    assert set(sandbox.deleted_recordings) == {first_sid, take_sid}
    assert sandbox.recording_media == {}
    logged = audit.recent(services.redis)[0]
    assert (logged["login"], logged["ref"]) == ("eva", "fr/welcome")
    assert logged["action"].startswith("recorded by phone")
    caller = Phone(app.test_client(), "+32470123456")  # a caller choosing French hears it
    assert plays(caller.press("1"))[0].endswith("/audio/" + entry["file"])


def test_the_entry_code_is_nothing_special_from_a_phone_that_is_no_editors(app, services, eva):
    for number in ("+32470123456", "+32470999888"):  # a caller; amina, a mediator
        phone = Phone(app.test_client(), number)
        phone.press("#")
        answer = phone.press(flow.ENTRY_CODE)
        assert "PIN" not in " ".join(said(answer))
        assert "/voice/record/" not in phone.action


def test_recording_steps_need_the_pin_a_signature_and_the_call(app, services, eva):
    client = app.test_client()
    stranger = {"From": EVA_PHONE, "CallSid": "CA" + "9" * 32, "Digits": PIN}
    assert twilio_post(client, "/voice/record/pin", stranger).status_code == 403
    phone = Phone(client, EVA_PHONE)
    phone.press("#")
    phone.press(flow.ENTRY_CODE)
    for step in ("number", "record", "review", "language"):  # before the PIN
        response = twilio_post(client, f"/voice/record/{step}",
                               {"From": EVA_PHONE, "CallSid": phone.sid, "Digits": "2"})
        assert response.status_code == 403, step
    unsigned = client.post("/voice/record/pin", data={"CallSid": phone.sid, "Digits": PIN})
    assert unsigned.status_code == 403
    params = {"From": EVA_PHONE, "CallSid": phone.sid, "Digits": PIN}
    forged = client.post("/voice/record/pin", data=params, headers={
        "X-Twilio-Signature": sign(PUBLIC + "/voice/record/pin", params, token="wrong")})
    assert forged.status_code == 403
    assert twilio_post(client, "/voice/record/nonsense", params).status_code == 404


def test_wrong_pins_end_the_call_and_pause_the_pin_across_calls(app, services, eva):
    phone = Phone(app.test_client(), EVA_PHONE)
    phone.press("#")
    phone.press(flow.ENTRY_CODE)
    for _ in range(flow.MAX_PIN_TRIES - 1):
        assert "Wrong PIN. Type" in " ".join(said(phone.press("0000")))
    ended = phone.press("0000")
    assert "Goodbye" in " ".join(said(ended)) and ended.find("Hangup") is not None
    second = Phone(app.test_client(), EVA_PHONE)
    second.press("#")
    second.press(flow.ENTRY_CODE)
    second.press("0000")
    second.press("0000")  # five wrong PINs for eva in 15 minutes
    assert "Wrong PIN" in " ".join(said(second.press(PIN)))  # even the right one waits
    assert services.redis.ttl("rec:pinfail:eva") > 0


def test_an_editor_of_several_languages_chooses_one(app, services, eva):
    services.mediators.add("root", "Root", ["nl"], "+32470999555", PASSWORD, role="admin")
    services.mediators.set_pin("root", "98765")
    phone = Phone(app.test_client(), "+32470999555")
    phone.press("#")
    phone.press(flow.ENTRY_CODE)
    menu = phone.press("98765")
    codes = list(services.content.languages)
    assert len(codes) > 9  # two digits and hash
    assert f"{services.content.languages['nl'].name}: press {codes.index('nl') + 1}." in said(
        menu)[0] and said(menu)[0].endswith("Then press hash.")
    assert menu.find("Gather").get("finishOnKey") == "#"
    asked = phone.press(str(codes.index("ro") + 1))
    assert "Type the number" in " ".join(said(asked))
    heard = phone.press("1")
    assert said(heard)[0] == "Prompt 1. The text is:"


def test_no_item_may_take_the_entry_code(content_copy):
    from hotline.content.ivr import ContentError
    from tests.helpers import edit

    def take_it(menu):
        item = next(n for n in menu["nodes"].values() if n.get("code"))
        item["code"] = flow.ENTRY_CODE

    edit(content_copy / "ivr_scripts" / "menu.yaml", take_it)
    with pytest.raises(ContentError, match="00 opens recording by phone"):
        load_content(content_copy)


def test_without_redis_the_entry_code_is_an_unknown_code_and_steps_say_so(app, services, eva):
    phone = Phone(app.test_client(), EVA_PHONE)
    phone.press("#")
    phone.press(flow.ENTRY_CODE)
    phone.press(PIN)
    services._redis = None
    services.settings = services.settings.replace(redis_url="redis://127.0.0.1:1/0")
    step = phone.press("2")  # mid-call
    assert "not possible right now" in " ".join(said(step)) and step.find("Hangup") is not None
    other = Phone(app.test_client(), EVA_PHONE)
    other.press("#")
    answer = other.press(flow.ENTRY_CODE)  # answered as an unknown code
    assert "PIN" not in " ".join(said(answer)) and "/voice/record/" not in other.action
