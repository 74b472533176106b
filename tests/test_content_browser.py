"""The Content section in a real headless Chromium at a small phone's width (360 px), as an
editor uses it: find a prompt, listen, upload a file from the phone, record in the browser with
Chromium's fake microphone, and print the script sheet. Nothing wider than the screen, and no
content security policy violation."""

from __future__ import annotations

import pytest

from hotline.audio.build import RECORDING, read_manifest
from hotline.audio.library import text_id
from hotline.audio.takes import prompt_named
from hotline.console import audit
from tests.helpers import PASSWORD
from tests.test_audio_takes import encode, speech
from tests.test_console_browser import CHROMIUM, FLAGS, SHOTS, playwright_api, serve, served
from tests.test_console_content import copy_app, ledger

pytestmark = [pytest.mark.slow, pytest.mark.skipif(CHROMIUM is None, reason="no chromium")]
MICROPHONE = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
__all__ = ["copy_app", "served"]  # fixtures


def _fits(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"{page.url} is {width} px wide on a 360 px screen"


def test_an_editor_uploads_and_records_a_prompt_on_a_phone(services, served, tmp_path):
    services.mediators.add("eva", "Eva", ["fr"], "+32470999666", PASSWORD, role="editor")
    welcome = prompt_named(services.content, "fr", "welcome")
    phone_file = tmp_path / "welcome.m4a"
    phone_file.write_bytes(encode(speech(welcome.text), "ipod", "aac"))
    SHOTS.mkdir(parents=True, exist_ok=True)
    violations: list[str] = []
    with playwright_api.sync_playwright() as pw:
        chrome = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS + MICROPHONE)
        context = chrome.new_context(viewport={"width": 360, "height": 740})
        context.grant_permissions(["microphone"], origin=served)
        page = context.new_page()
        page.on("console", lambda m: violations.append(m.text)
                if "Content Security Policy" in m.text else None)
        page.goto(f"{served}/console/login")
        page.fill("input[name=login]", "eva")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_selector("h1:text('Content')")  # an editor lands on Content
        _fits(page)
        page.click("text=Français (fr)")
        page.wait_for_selector("h1:text('Français (fr)')")
        _fits(page)
        page.screenshot(path=str(SHOTS / "content-language.png"), full_page=True)
        page.click("#p-welcome a")
        page.wait_for_selector("#text")
        assert page.inner_text("#text") == welcome.text
        assert page.inner_text("#audio-state") == "no audio"
        _fits(page)

        # a file from the phone's recorder app
        page.set_input_files("#audio-file", str(phone_file))
        page.click("text=Upload and keep")
        page.wait_for_selector("text=Kept: callers hear your recording of welcome now")
        assert page.inner_text("#audio-state").startswith("a person's recording")
        first = read_manifest(services.audio.root)[text_id("fr", welcome.text)]
        assert first["engine"] == RECORDING
        src = page.get_attribute("#player", "src")
        assert src == f"/audio/{first['file']}"
        assert page.evaluate("""async (src) => {
            const response = await fetch(src);
            return [response.status, response.headers.get('content-type')];
        }""", src) == [200, "audio/x-wav"]
        page.screenshot(path=str(SHOTS / "content-prompt.png"), full_page=True)

        # the browser's own recorder (Chromium's fake microphone beeps)
        page.wait_for_selector("#recorder", state="visible")
        page.click("#record-start")
        page.wait_for_selector("text=Recording… read the text")
        page.wait_for_timeout(2500)
        page.click("#record-stop")
        page.wait_for_selector("#record-preview", state="visible")
        with page.expect_navigation():
            page.click("#record-keep")
        page.wait_for_selector("text=Kept: callers hear your recording of welcome now")
        second = read_manifest(services.audio.root)[text_id("fr", welcome.text)]
        assert second["engine"] == RECORDING and second["file"] != first["file"]
        assert 1.0 < second["seconds"] < 3.0
        assert page.get_attribute("#player", "src") == f"/audio/{second['file']}"
        actions = [e["action"] for e in audit.recent(services.redis)]
        assert actions[0].startswith("recorded in the browser a recording")
        assert actions[1].startswith("uploaded a recording")

        # the script sheet, printed
        page.goto(f"{served}/console/content/fr/script")
        _fits(page)
        page.emulate_media(media="print")
        assert page.is_hidden("header") and page.is_hidden(".noprint")
        page.screenshot(path=str(SHOTS / "content-script.png"), full_page=True)
        context.close()
        chrome.close()
    assert violations == []


@pytest.fixture
def served_copy(copy_app):
    """The console on a writable copy of the content (a review writes the ledger), served."""
    yield from serve(copy_app)


def test_a_reviewer_marks_a_text_reviewed_from_a_phone(copy_app, served_copy):
    with playwright_api.sync_playwright() as pw:
        chrome = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = chrome.new_context(viewport={"width": 360, "height": 740}).new_page()
        page.goto(f"{served_copy}/console/login")
        page.fill("input[name=login]", "eva")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.goto(f"{served_copy}/console/content/fr/welcome")
        assert page.inner_text("#review-state") == "draft"
        page.fill("#review-by", "Eva Martin")
        page.click("text=Mark reviewed: language")
        page.wait_for_selector("text=Recorded: language review by Eva Martin.")
        assert page.inner_text("#review-state") == "reviewed"
        _fits(page)
        chrome.close()
    [entry] = ledger(copy_app)
    assert (entry["key"], entry["kind"], entry["by"]) == ("welcome", "language", "Eva Martin")
