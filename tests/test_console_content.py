"""The console's Content section through Flask's client: who may see it, the prompts' table, the
script sheet, and a recording uploaded, kept, audited and played by every web process at once."""

from __future__ import annotations

import html
import io
import re

import pytest
import yaml

from hotline.app import create_app
from hotline.audio.build import RECORDING, read_manifest
from hotline.audio.library import text_id
from hotline.audio.takes import prompt_named
from hotline.console import audit
from hotline.console import content as content_console
from hotline.content.reviews import text_hash
from tests.helpers import (
    ACCOUNT,
    HTTPS,
    PASSWORD,
    PUBLIC,
    REFERER,
    SECRET,
    TOKEN,
    add_mediators,
    csrf,
    edit,
    log_in,
    next_url,
    sms_post,
    sms_replies,
    twilio_post,
    twiml,
    waiting_ticket,
)
from tests.test_audio_takes import encode, speech

EVA_PHONE = "+32470999666"


@pytest.fixture
def editor(services, mediators):
    """eva edits French; amina and bram (mediators) take calls."""
    services.mediators.add("eva", "Eva", ["fr"], EVA_PHONE, PASSWORD, role="editor")


def upload(client, path: str, data: bytes, name: str = "take.mp3", token: str | None = "page",
           headers: dict[str, str] | None = None):
    form = {"audio": (io.BytesIO(data), name)}
    if token:
        form["csrf_token"] = csrf(client, path.rsplit("/", 1)[0]) if token == "page" else token
    return client.post(path, data=form, content_type="multipart/form-data",
                       headers={**REFERER, **(headers or {})}, **HTTPS)


def welcome_take(services) -> tuple[str, bytes]:
    """French welcome's text, and a take of it as a phone's MP3 (espeak-ng reading English
    words stands in for a person)."""
    text = prompt_named(services.content, "fr", "welcome").text
    return text, encode(speech(text), "mp3", "libmp3lame")


def test_only_editors_and_admins_of_a_language_see_its_content(app, services, editor):
    services.mediators.add("root", "Root", ["nl"], "+32470999555", PASSWORD, role="admin")
    for login, allowed in (("amina", ()), ("eva", ("fr",)), ("root", ("fr", "ar", "ti"))):
        client = app.test_client()
        log_in(client, login)
        index = client.get("/console/content/", **HTTPS)
        assert index.status_code == (200 if allowed else 403), login
        for lang in ("fr", "ar", "ti"):
            page = client.get(f"/console/content/{lang}", **HTTPS)
            assert page.status_code == (200 if lang in allowed else 403), (login, lang)
    client = app.test_client()
    assert client.get("/console/content/fr", **HTTPS).status_code == 302  # not logged in
    log_in(client, "eva")
    assert client.get("/console/content/xx", **HTTPS).status_code == 404
    assert client.get("/console/content/fr/no_such_prompt", **HTTPS).status_code == 404
    queues = client.get("/console/", **HTTPS)
    assert queues.status_code == 302 and queues.location.endswith("/console/content/")
    take = client.post("/console/take", data={"csrf_token": csrf(client, "/console/content/")},
                       headers=REFERER, **HTTPS)
    assert take.status_code == 403  # an editor takes no calls
    assert services.mediators.active_for("fr") and all(
        m.login != "eva" for m in services.mediators.active_for("fr"))
    waiting_ticket(app, services)
    assert sms_replies(sms_post(app.test_client(), "NEXT", number=EVA_PHONE)) == [
        "This account works on the line's content and takes no calls."]
    assert services.callbacks.waiting("fr")  # still waiting for a mediator


def test_the_table_lists_every_prompt_numbered_with_its_english_source(app, services, editor):
    client = app.test_client()
    log_in(client, "eva")
    page = client.get("/console/content/fr", **HTTPS).get_data(as_text=True)
    welcome = prompt_named(services.content, "fr", "welcome")
    english = services.content.text("en", "welcome")
    row = html.unescape(re.search(r'<tr id="p-welcome">(.*?)</tr>', page, re.S).group(1))
    assert welcome.text in row and english in row and "draft" in row
    assert "no audio" in row  # this test's audio cache is empty
    option = html.unescape(re.search(r'<tr id="p-language_option">(.*?)</tr>', page,
                                     re.S).group(1))
    assert services.content.languages["en"].prompts["language_option"] in option  # {digit}
    numbers = re.findall(r'<td data-label="#">(\d+)</td>', page)
    assert numbers == [str(n) for n in range(1, len(numbers) + 1)] and len(numbers) > 50
    # a recording made from an older text of the prompt is stale
    folder = services.audio.root / "recordings" / "fr"
    folder.mkdir(parents=True)
    (folder / "welcome.wav").write_bytes(encode(speech("Hello."), "wav", "pcm_s16le"))
    (folder / "welcome.txt").write_text("Ligne d'aide. Urgence : 112.", encoding="utf-8")
    page = client.get("/console/content/fr", **HTTPS).get_data(as_text=True)
    row = html.unescape(re.search(r'<tr id="p-welcome">(.*?)</tr>', page, re.S).group(1))
    assert "recording of an older text" in row


def test_an_uploaded_recording_plays_at_once_in_every_web_process_and_is_audited(
        app, services, editor, redis_server, sandbox, tmp_path):
    other_process = create_app({  # another web process: its own audio library
        "VAR_DIR": tmp_path / "var", "TWILIO_ACCOUNT_SID": ACCOUNT, "TWILIO_AUTH_TOKEN": TOKEN,
        "TWILIO_API_BASE_URL": sandbox.base_url, "PUBLIC_BASE_URL": PUBLIC,
        "REDIS_URL": redis_server.url, "SECRET_KEY": SECRET, "TESTING": True})
    heard_before = _french_welcome_heard(other_process)  # its manifest is read and cached
    client = app.test_client()
    log_in(client, "eva")
    text, data = welcome_take(services)
    assert len(data) > 64 * 1024 // 4
    response = upload(client, "/console/content/fr/welcome/recording", data)
    assert response.status_code == 303, response.get_data(as_text=True)
    page = client.get(response.location, **HTTPS).get_data(as_text=True)
    assert "Kept: callers hear your recording of welcome now" in page
    entry = read_manifest(services.audio.root)[text_id("fr", text)]
    assert entry["engine"] == RECORDING and entry["source"] == "recordings/fr/welcome.flac"
    assert f'src="/audio/{entry["file"]}"' in page
    assert _french_welcome_heard(app) == entry["file"]
    assert _french_welcome_heard(other_process) == entry["file"] != heard_before
    assert app.test_client().get(f"/audio/{entry['file']}").status_code == 200
    assert app.test_client().get("/audio/recordings/fr/welcome.flac").status_code == 404
    logged = audit.recent(services.redis)[0]
    assert logged["login"] == "eva" and logged["ref"] == "fr/welcome"
    assert logged["action"].startswith("uploaded a recording (")
    table = client.get("/console/content/fr", **HTTPS).get_data(as_text=True)
    row = html.unescape(re.search(r'<tr id="p-welcome">(.*?)</tr>', table, re.S).group(1))
    assert "a person's recording" in row


def _french_welcome_heard(app) -> str | None:
    """The audio file a caller choosing French hears first, or None when it is a <Say>."""
    client = app.test_client()
    menu = twiml(twilio_post(client, "/voice"))
    url = next_url(menu)
    path = url.split("://", 1)[-1].split("/", 1)[-1]
    answer = twiml(twilio_post(client, "/" + path, {"Digits": "1"}))
    plays = [p.text for p in answer.iter("Play")]
    return plays[0].rsplit("/", 1)[-1] if plays else None


def test_an_upload_needs_its_csrf_token(app, services, editor):
    client = app.test_client()
    log_in(client, "eva")
    _, data = welcome_take(services)
    for token in (None, "forged-token"):
        response = upload(client, "/console/content/fr/welcome/recording", data, token=token)
        assert response.status_code == 400
    assert not (services.audio.root / "recordings").exists()
    assert audit.recent(services.redis) == []


def test_uploads_are_limited_in_size_and_only_there(app, services, editor, monkeypatch):
    monkeypatch.setattr(content_console, "MAX_UPLOAD_BYTES", 200_000)
    client = app.test_client()
    log_in(client, "eva")
    text, _ = welcome_take(services)
    wav = encode(speech(text, rate=16000), "wav", "pcm_s16le")
    assert 64 * 1024 < len(wav) < 190_000  # more than a webhook may send, less than the limit
    assert upload(client, "/console/content/fr/welcome/recording", wav,
                  name="take.wav").status_code == 303
    big = encode(speech(text, rate=48000), "wav", "pcm_s16le")
    assert len(big) > 200_000
    assert upload(client, "/console/content/fr/welcome/recording", big,
                  name="take.wav").status_code == 413
    # elsewhere in the console the 64 kB limit stands
    over = client.post("/console/login", data={"login": "x" * 70_000}, **HTTPS)
    assert over.status_code == 413


def test_a_file_that_is_not_a_take_is_refused_with_a_reason(app, services, editor):
    client = app.test_client()
    log_in(client, "eva")
    response = upload(client, "/console/content/fr/welcome/recording", b"GIF89a" + b"\0" * 900,
                      name="photo.gif")
    assert response.status_code == 400
    assert "Not kept: not a sound file this line can read" in response.get_data(as_text=True)
    json_answer = upload(client, "/console/content/fr/welcome/recording", b"",
                         headers={"Accept": "application/json"})
    assert json_answer.status_code == 400 and json_answer.json["ok"] is False
    assert not (services.audio.root / "recordings" / "fr" / "welcome.flac").exists()


def test_the_script_sheet_numbers_every_prompt_and_marks_what_is_left(app, services, editor):
    client = app.test_client()
    log_in(client, "eva")
    sheet = client.get("/console/content/fr/script", **HTTPS).get_data(as_text=True)
    total = len(re.findall(r"<li value=", sheet))
    assert f"{total} of {total} prompts still to record" in sheet
    text, data = welcome_take(services)
    upload(client, "/console/content/fr/welcome/recording", data)
    sheet = client.get("/console/content/fr/script", **HTTPS).get_data(as_text=True)
    assert f"{total - 1} of {total} prompts still to record" in sheet
    welcome = re.search(r'<li value="(\d+)" class="done">(.*?)</li>', sheet, re.S)
    assert "recorded" in welcome.group(2) and text in html.unescape(welcome.group(2))
    todo = client.get("/console/content/fr/script?todo=1", **HTTPS).get_data(as_text=True)
    assert len(re.findall(r"<li value=", todo)) == total - 1 and text not in html.unescape(todo)


# --- reviews: the review ledger (hotline.content.reviews), marked from the console ----------------


@pytest.fixture
def copy_app(content_copy, redis_db, redis_server, sandbox, tmp_path):
    """The app on a writable copy of the content (a review writes the ledger beside the texts),
    with eva (fr editor) and the mediators."""
    app = create_app({
        "CONTENT_ROOT": content_copy, "VAR_DIR": tmp_path / "var", "TWILIO_ACCOUNT_SID": ACCOUNT,
        "TWILIO_AUTH_TOKEN": TOKEN, "TWILIO_API_BASE_URL": sandbox.base_url,
        "PUBLIC_BASE_URL": PUBLIC, "REDIS_URL": redis_server.url, "SECRET_KEY": SECRET,
        "TESTING": True})
    services = app.extensions["hotline"]
    add_mediators(services)
    services.mediators.add("eva", "Eva", ["fr"], EVA_PHONE, PASSWORD, role="editor")
    return app


def review_form(client, key: str, kind: str, by: str = "Eva Martin", sha: str | None = None):
    page = client.get(f"/console/content/fr/{key}", **HTTPS).get_data(as_text=True)
    shown = re.search(r'name="sha256" value="([0-9a-f]{64})"', page).group(1)
    return client.post(f"/console/content/fr/{key}/review", data={
        "csrf_token": csrf(client, f"/console/content/fr/{key}"), "kind": kind, "by": by,
        "sha256": sha or shown}, headers=REFERER, **HTTPS)


def ledger(app) -> list[dict]:
    path = app.extensions["hotline"].settings.content_root / "ivr_scripts" / "reviews" / "fr.yaml"
    return yaml.safe_load(path.read_text(encoding="utf-8"))["reviews"] if path.exists() else []


def status_of(client, key: str) -> str:
    page = client.get("/console/content/fr", **HTTPS).get_data(as_text=True)
    row = re.search(rf'<tr id="p-{key}">(.*?)</tr>', page, re.S).group(1)
    return re.search(r'<td data-label="Status">(\w+)</td>', row).group(1)


def test_a_reviewer_marks_a_prompt_reviewed_in_the_ledger(copy_app):
    services = copy_app.extensions["hotline"]
    client = copy_app.test_client()
    log_in(client, "eva")
    assert status_of(client, "welcome") == "draft"
    page = client.get("/console/content/fr/welcome", **HTTPS).get_data(as_text=True)
    assert "Mark reviewed: language" in page and "Mark reviewed: legal" not in page
    done = review_form(client, "welcome", "language")
    assert done.status_code == 303
    page = client.get(done.location, **HTTPS).get_data(as_text=True)
    assert "Recorded: language review by Eva Martin. The text is now reviewed." in page
    [entry] = ledger(copy_app)
    assert (entry["key"], entry["kind"], entry["by"]) == ("welcome", "language", "Eva Martin")
    assert entry["sha256"] == text_hash(services.content.languages["fr"].prompts["welcome"])
    assert status_of(client, "welcome") == "reviewed"  # at once, without a restart
    logged = audit.recent(services.redis)[0]
    assert (logged["login"], logged["ref"]) == ("eva", "fr/welcome")
    assert logged["action"] == "marked reviewed (language) by Eva Martin"


def test_a_text_stating_facts_needs_a_legal_review_too(copy_app):
    services = copy_app.extensions["hotline"]
    client = copy_app.test_client()
    log_in(client, "eva")
    key = next(n.prompt for n in services.content.nodes.values() if n.type == "info")
    page = client.get(f"/console/content/fr/{key}", **HTTPS).get_data(as_text=True)
    assert "Mark reviewed: language" in page and "Mark reviewed: legal" in page
    review_form(client, key, "language")
    assert status_of(client, key) == "draft"  # still waiting for the legal review
    review_form(client, key, "legal", by="Maître Dupont")
    assert status_of(client, key) == "reviewed"
    assert [e["kind"] for e in ledger(copy_app)] == ["language", "legal"]


def test_a_review_of_a_text_that_changed_since_the_page_was_read_is_refused(copy_app):
    client = copy_app.test_client()
    log_in(client, "eva")
    root = copy_app.extensions["hotline"].settings.content_root
    page = client.get("/console/content/fr/welcome", **HTTPS).get_data(as_text=True)
    shown = re.search(r'name="sha256" value="([0-9a-f]{64})"', page).group(1)
    edit(root / "ivr_scripts" / "fr.yaml", lambda data: data["prompts"].update(
        welcome="Ligne d'aide. Urgence : {emergency_number}."))
    refused = review_form(client, "welcome", "language", sha=shown)
    assert refused.status_code == 409
    assert "the text has changed since this page was loaded" in refused.get_data(as_text=True)
    edit(root / "ivr_scripts" / "fr.yaml", lambda data: data["prompts"].update(
        welcome="Ligne d'aide. Urgence : {no_such_value}."))  # half-way through an edit
    broken = review_form(client, "welcome", "language", sha=shown)
    assert broken.status_code == 409 and "do not load" in broken.get_data(as_text=True)
    assert ledger(copy_app) == []


def test_reviews_are_refused_without_a_name_a_needed_kind_or_the_right(copy_app):
    client = copy_app.test_client()
    log_in(client, "eva")
    assert review_form(client, "welcome", "legal").status_code == 400  # no facts in it
    assert review_form(client, "welcome", "spelling").status_code == 400
    nameless = review_form(client, "welcome", "language", by="   ")
    assert nameless.status_code == 400 and "write the reviewer" in nameless.get_data(as_text=True)
    mediator = copy_app.test_client()
    log_in(mediator, "amina")
    forbidden = mediator.post("/console/content/fr/welcome/review", data={
        "csrf_token": csrf(mediator, "/console/"), "kind": "language", "by": "Amina"},
        headers=REFERER, **HTTPS)
    assert forbidden.status_code == 403
    assert ledger(copy_app) == []
