"""Voice webhooks over HTTP: TwiML structure, signatures, audio lookup and serving."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest

from hotline.app import create_app
from hotline.audio.library import text_id
from tests.helpers import CALL, PUBLIC, TOKEN, sign, twilio_post, twiml


def test_incoming_call_gathers_one_key_for_the_language_menu(client):
    root = twiml(twilio_post(client, "/voice"))
    gather, redirect = list(root)
    assert gather.tag == "Gather" and redirect.tag == "Redirect"
    assert gather.get("numDigits") == "1" and gather.get("input") == "dtmf"
    says = gather.findall("Say")
    # Dari and Tigrinya have no Twilio voice: without rendered audio they are not offered, and
    # no other language speaks in their place; Pashto (no voice at all) neither, on page 2 (9)
    assert [s.get("language") for s in says] == ["fr-FR", "nl-BE", "en-GB", "ar-XA", "uk-UA",
                                                 "ru-RU", "tr-TR", "es-ES", "ro-RO"]
    assert [s.text for s in says[5:]] == ["Русский: 8.", "Türkçe: 9.", "Español: 9.", "Română: 9."]
    assert says[2].text == "English: 3."
    action = urlsplit(gather.get("action"))
    assert action.path == "/voice/step"
    assert parse_qs(action.query) == {"node": ["languages"], "retry": ["0"]}
    assert redirect.text == gather.get("action")  # silence: the same step without Digits


def test_state_travels_in_the_url_not_in_a_session(client):
    root = twiml(twilio_post(client, "/voice/step?node=languages&retry=0", {"Digits": "2"}))
    gather = root.find("Gather")
    assert parse_qs(urlsplit(gather.get("action")).query) == {
        "node": ["main"], "retry": ["0"], "lang": ["nl"]}
    assert "112" in gather.find("Say").text
    assert "Set-Cookie" not in twilio_post(client, "/voice").headers


def test_information_item_then_its_options(client):
    root = twiml(twilio_post(client, "/voice/step?node=money&lang=en&retry=0", {"Digits": "2"}))
    texts = [s.text for s in root.find("Gather").findall("Say")]
    assert "from 1 February 2025" in texts[0]
    assert texts[1:] == ["Again: 1.", "By SMS: 2.", "A person: 0.", "Back: star.", "Menu: 9."]


def test_wrong_key_twice_then_goodbye_and_hangup(client):
    path = "/voice/step?node=main&lang=en&retry=2"
    root = twiml(twilio_post(client, path, {"Digits": "8"}))
    assert [child.tag for child in root] == ["Say", "Say", "Hangup"]
    assert "112" in root[1].text


def test_silence_retries_with_incremented_counter(client):
    root = twiml(twilio_post(client, "/voice/step?node=main&lang=en&retry=0"))
    gather = root.find("Gather")
    assert gather.find("Say").text == "We did not hear a choice."
    assert parse_qs(urlsplit(gather.get("action")).query)["retry"] == ["1"]


@pytest.mark.parametrize("query", [
    "node=main&lang=en&retry=abc", "node=%00&lang=zz", "retry=99999999999999999999",
    "node=main&lang=en&retry=-1", "lang=%D9%84", "",
])
def test_nonsense_positions_answer_with_a_menu_not_an_error(client, query):
    path = f"/voice/step?{query}" if query else "/voice/step"
    root = twiml(twilio_post(client, path, {"Digits": "1"}))
    assert root.find("Gather") is not None or root.find("Hangup") is not None


def test_missing_signature_is_403(client):
    assert client.post("/voice", data=CALL).status_code == 403


def test_wrong_token_is_403(client):
    headers = {"X-Twilio-Signature": sign(PUBLIC + "/voice", CALL, token="another-token")}
    assert client.post("/voice", data=CALL, headers=headers).status_code == 403


def test_tampered_parameter_is_403(client):
    headers = {"X-Twilio-Signature": sign(PUBLIC + "/voice/step?node=main&lang=en",
                                          {**CALL, "Digits": "1"})}
    response = client.post("/voice/step?node=main&lang=en", data={**CALL, "Digits": "2"},
                           headers=headers)
    assert response.status_code == 403


def test_signature_for_another_url_is_403(client):
    headers = {"X-Twilio-Signature": sign("https://evil.example.org/voice", CALL)}
    assert client.post("/voice", data=CALL, headers=headers).status_code == 403
    headers = {"X-Twilio-Signature": sign(PUBLIC + "/voice/step?node=main&lang=fr", CALL)}
    response = client.post("/voice/step?node=main&lang=en", data=CALL, headers=headers)
    assert response.status_code == 403


def test_get_is_not_allowed(client):
    assert client.get("/voice").status_code == 405


def test_without_public_base_url_the_request_url_is_signed(redis_server):
    app = create_app({"TWILIO_AUTH_TOKEN": TOKEN, "REDIS_URL": redis_server.url})
    client = app.test_client()
    headers = {"X-Twilio-Signature": sign("http://localhost/voice", CALL)}
    assert client.post("/voice", data=CALL, headers=headers).status_code == 200


def test_no_token_refuses_to_start_unless_insecure_dev(redis_server, caplog):
    from hotline.app import ConfigError

    with pytest.raises(ConfigError, match="TWILIO_AUTH_TOKEN"):
        create_app({"TWILIO_AUTH_TOKEN": "", "INSECURE_DEV": False})
    app = create_app({"TWILIO_AUTH_TOKEN": "", "INSECURE_DEV": True})
    assert "INSECURE DEVELOPMENT MODE" in caplog.text
    assert app.test_client().post("/voice", data=CALL).status_code == 200


def test_healthz_reports_redis(client):
    body = client.get("/healthz").get_json()
    assert body["status"] == "ok" and body["redis"] == "ok"


@pytest.fixture
def audio_app(tmp_path, redis_server):
    """An app whose audio cache holds one small fixture file for the English welcome."""
    app = create_app({"TWILIO_AUTH_TOKEN": TOKEN, "PUBLIC_BASE_URL": PUBLIC,
                      "AUDIO_ROOT": tmp_path})
    content = app.extensions["hotline"].content
    welcome = content.text("en", "welcome")
    (tmp_path / "0123abcd.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt ")
    manifest = {"version": 1, "files": {text_id("en", welcome): {
        "file": "0123abcd.wav", "lang": "en", "keys": ["welcome"], "text": welcome}}}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    return app


def test_rendered_audio_is_played_instead_of_say(audio_app):
    root = twiml(twilio_post(audio_app.test_client(), "/voice/step?node=languages",
                             {"Digits": "3"}))
    first = root.find("Gather")[0]
    # absolute, from PUBLIC_BASE_URL (issue 14, item 18: the URL was relative)
    assert first.tag == "Play" and first.text == f"{PUBLIC}/audio/0123abcd.wav"
    assert root.find("Gather")[1].tag == "Say"  # no file for the main menu: <Say>


def test_changed_text_never_plays_stale_audio(audio_app, tmp_path):
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    entry = next(iter(manifest["files"].values()))
    entry["text"] = "An older welcome."
    manifest["files"] = {text_id("en", "An older welcome."): entry}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    root = twiml(twilio_post(audio_app.test_client(), "/voice/step?node=languages",
                             {"Digits": "3"}))
    assert root.find("Gather")[0].tag == "Say"


def test_listed_but_missing_file_falls_back_to_say(audio_app, tmp_path):
    (tmp_path / "0123abcd.wav").unlink()
    root = twiml(twilio_post(audio_app.test_client(), "/voice/step?node=languages",
                             {"Digits": "3"}))
    assert root.find("Gather")[0].tag == "Say"


def test_audio_is_served_immutable_and_the_manifest_is_not(audio_app):
    client = audio_app.test_client()
    response = client.get("/audio/0123abcd.wav")
    assert response.status_code == 200
    assert "immutable" in response.headers["Cache-Control"]
    assert "max-age=31536000" in response.headers["Cache-Control"]
    assert client.get("/audio/manifest.json").headers["Cache-Control"] == "no-cache"
    assert client.get("/audio/../pyproject.toml").status_code == 404
    assert client.get("/audio/nothing.wav").status_code == 404


def test_a_language_that_cannot_be_spoken_is_not_offered_and_its_key_is_refused(client):
    """Without rendered audio, Dari (6) and Tigrinya (7) have no voice: not offered, and their
    keys replay the menu, never another language in their place."""
    root = twiml(twilio_post(client, "/voice/step?node=languages&retry=0", {"Digits": "6"}))
    says = root.find("Gather").findall("Say")
    assert [s.text for s in says] == ["Français : 1.", "Nederlands: 2.", "English: 3.",
                                      "العربية: 4.", "Українська: 5.", "Русский: 8.",
                                      "Türkçe: 9.", "Español: 9.", "Română: 9."]
    assert parse_qs(urlsplit(root.find("Gather").get("action")).query)["retry"] == ["1"]
    # Pashto, 4 on the second page, is not offered either: its key replays the second page
    root = twiml(twilio_post(client, "/voice/step?node=languages_more&retry=0", {"Digits": "4"}))
    says = root.find("Gather").findall("Say")
    assert [s.text for s in says] == ["Türkçe: 1.", "Español: 2.", "Română: 3."]
    assert parse_qs(urlsplit(root.find("Gather").get("action")).query) == {
        "node": ["languages_more"], "retry": ["1"]}
    hinted = twiml(twilio_post(client, "/voice", {"From": "+923001234567"}))  # Pakistan: Pashto
    assert "پښتو" not in "".join(s.text for s in hinted.find("Gather").findall("Say"))


def test_a_country_code_puts_its_language_first_with_its_own_key(client):
    root = twiml(twilio_post(client, "/voice", {"From": "+380501234567"}))
    says = root.find("Gather").findall("Say")
    assert says[0].text == "Українська: 5." and says[0].get("language") == "uk-UA"
    assert [s.text for s in says[1:3]] == ["Français : 1.", "Nederlands: 2."]


def test_the_language_chosen_is_remembered_for_the_next_call(client, redis_db):
    mobile = {"From": "+32470123456"}
    first = twiml(twilio_post(client, "/voice", mobile))
    assert len(first.find("Gather").findall("Say")) == 9  # the language menu (9 have a voice)
    twiml(twilio_post(client, "/voice/step?node=languages&retry=0", {"Digits": "2", **mobile}))
    again = twiml(twilio_post(client, "/voice", mobile))
    says = again.find("Gather").findall("Say")
    assert says[0].get("language") == "nl-BE" and says[0].text == "Hulplijn."
    assert says[-1].text.endswith("sterretje.")  # and how to change it
    withheld = twiml(twilio_post(client, "/voice", {"From": "anonymous"}))
    assert len(withheld.find("Gather").findall("Say")) == 9
    assert not any(b"470123456" in k for k in redis_db.keys("*"))


def test_a_language_chosen_on_the_second_page_is_remembered(client, redis_db):
    mobile = {"From": "+32470123456"}
    page2 = twiml(twilio_post(client, "/voice/step?node=languages&retry=0", {"Digits": "9",
                                                                              **mobile}))
    action = page2.find("Gather").get("action")
    assert parse_qs(urlsplit(action).query) == {"node": ["languages_more"], "retry": ["0"]}
    chosen = twiml(twilio_post(client, action, {"Digits": "2", **mobile}))
    assert parse_qs(urlsplit(chosen.find("Gather").get("action")).query)["lang"] == ["es"]
    again = twiml(twilio_post(client, "/voice", mobile))
    says = again.find("Gather").findall("Say")
    assert says[0].get("language") == "es-ES" and says[0].text == "Línea de ayuda social."


def test_a_spanish_number_chooses_spanish_with_one_key(client):
    root = twiml(twilio_post(client, "/voice", {"From": "+34612345678"}))
    gather = root.find("Gather")
    says = gather.findall("Say")
    assert says[0].text == "Español: 0." and says[0].get("language") == "es-ES"
    assert "Español: 9." not in [s.text for s in says]
    chosen = twiml(twilio_post(client, gather.get("action"), {"Digits": "0"}))
    assert parse_qs(urlsplit(chosen.find("Gather").get("action")).query)["lang"] == ["es"]


def test_a_signature_over_the_url_with_its_port_is_accepted(client):
    """Twilio may sign https://host:443/…; the check falls back to that form."""
    headers = {"X-Twilio-Signature": sign("https://hotline.example.org:443/voice", CALL)}
    assert client.post("/voice", data=CALL, headers=headers).status_code == 200


@pytest.mark.parametrize("path", [
    "/audio/./recordings/en/welcome.wav", "/audio/%2e/recordings/en/welcome.wav",
    "/audio/recordings/../recordings/en/welcome.wav", "/audio/recordings/en/welcome.wav",
    "/audio/recordings%2fen%2fwelcome.wav", "/audio/stray.wav",
])
def test_audio_serves_only_what_the_manifest_lists(audio_app, tmp_path, path):
    """A recording (a source, maybe a volunteer's own voice) or any file the manifest does not
    list is never served, whatever the spelling of its path (issue 14, item 13)."""
    (tmp_path / "recordings" / "en").mkdir(parents=True)
    (tmp_path / "recordings" / "en" / "welcome.wav").write_bytes(b"RIFF source")
    (tmp_path / "stray.wav").write_bytes(b"RIFF stray")
    assert audio_app.test_client().get(path).status_code == 404


def test_an_oversized_webhook_body_is_refused_before_it_is_read(client):
    """64 kB is far more than any Twilio webhook sends (issue 14, item 7)."""
    body = "Body=" + "x" * (200 * 1024)
    response = client.post("/sms", data=body, headers={
        "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": "x"})
    assert response.status_code == 413


@pytest.mark.parametrize("duration", ["²", "١٢", "-5", "99999999999", ""])
def test_a_call_duration_that_is_no_plain_number_counts_nothing_and_is_no_500(client, duration):
    """"²" and Arabic-Indic digits pass str.isdigit() but not int(): a signed status callback
    with them must not crash the route."""
    response = twilio_post(client, "/voice/bridge/status?ref=123456", {
        "CallSid": f"CA{abs(hash(duration)):032d}"[:34], "CallStatus": "completed",
        "CallDuration": duration})
    assert response.status_code == 204
