"""The console in a real headless browser (Debian's chromium driven by Playwright): log in, take
the next ticket, see it, record an outcome, log out."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from hotline.callbacks.requests import open_request
from tests.helpers import MOBILE

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    CHROMIUM is None,
    reason="no chromium: `apt-get install chromium` (as .ci/run does) to run the browser test",
)]
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHOTS = Path(__file__).resolve().parent.parent / "var" / "screenshots"


def serve(app) -> Iterator[str]:
    """Serve `app` on a free port of localhost (as itself: no public URL) until closed."""
    services = app.extensions["hotline"]
    services.settings = services.settings.replace(public_base_url=None)
    server = make_server("localhost", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://localhost:{server.server_port}"
    server.shutdown()


@pytest.fixture
def served(app):
    yield from serve(app)


def test_log_in_take_next_record_outcome_log_out(services, served):
    services.mediators.add("amina", "Amina", ["fr", "ar"], "+32470999888",
                           "correct horse battery")
    ref, _ = open_request(services, MOBILE, "fr", "cpas", "ma voisine Fatima",
                          confirm_by_sms=False)
    SHOTS.mkdir(parents=True, exist_ok=True)
    with playwright_api.sync_playwright() as pw:
        chrome = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = chrome.new_page(viewport={"width": 390, "height": 844})  # a phone's screen
        page.goto(f"{served}/console/")
        assert page.url.startswith(f"{served}/console/login")
        page.fill("input[name=login]", "amina")
        page.fill("input[name=password]", "correct horse battery")
        page.click("button[type=submit]")
        page.wait_for_selector("text=Callback queues")
        page.screenshot(path=str(SHOTS / "queues.png"))
        page.click("text=Take next ticket")
        page.wait_for_selector(f"text=Ticket {ref}")
        assert page.inner_text("#number") == MOBILE
        assert "ma voisine Fatima" in page.inner_text(".history")  # the caller's note: theirs
        page.screenshot(path=str(SHOTS / "ticket.png"), full_page=True)
        page.click("button[value=reached]")
        page.wait_for_selector(f"text=Ticket {ref}: reached, now done.")
        assert services.callbacks.get(ref).status == "done"
        kept = page.context.cookies()
        page.click("text=Log out")
        page.wait_for_selector("text=You are logged out.")
        page.goto(f"{served}/console/ticket/{ref}")
        assert "/console/login" in page.url
        page.context.add_cookies(kept)  # the cookie from before logging out: ended too
        page.goto(f"{served}/console/ticket/{ref}")
        assert "/console/login" in page.url
        chrome.close()


def test_reports_page_on_a_phone_with_the_strict_policy(services, served, client):
    """The reports page at 360 px: charts load as images under the console's policy (no
    violation reported), nothing is wider than the screen, the CSV downloads."""
    from tests.helpers import PUBLIC, sms_post, twilio_post

    services.mediators.add("amina", "Amina", ["fr", "ar"], "+32470999888",
                           "correct horse battery", role="admin")
    served_settings = services.settings
    services.settings = served_settings.replace(public_base_url=PUBLIC)  # as Twilio signs
    assert twilio_post(client, "/voice", {"From": MOBILE}).status_code == 200
    for body in ("AIDE", "1", "1"):
        assert sms_post(client, body).status_code == 200
    services.settings = served_settings
    SHOTS.mkdir(parents=True, exist_ok=True)
    with playwright_api.sync_playwright() as pw:
        chrome = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = chrome.new_page(viewport={"width": 360, "height": 740}, accept_downloads=True)
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning")
                else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto(f"{served}/console/login")
        page.fill("input[name=login]", "amina")
        page.fill("input[name=password]", "correct horse battery")
        page.click("button[type=submit]")
        page.wait_for_selector("text=Callback queues")
        page.click("text=Reports")
        page.wait_for_selector("h1:text('Reports')")
        page.wait_for_load_state("networkidle")
        loaded = page.eval_on_selector_all(
            "img.chart", "imgs => imgs.map(i => [i.id, i.complete && i.naturalWidth > 0, "
                         "i.getBoundingClientRect().width])")
        assert len(loaded) == 5 and all(ok for _, ok, _ in loaded), loaded
        assert all(0 < width <= 360 for _, _, width in loaded), loaded
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        assert page.inner_text("#sms").splitlines()[1].split("\t")[:2] == ["Français", "3"]
        page.screenshot(path=str(SHOTS / "reports-360.png"), full_page=True)
        with page.expect_download() as download:
            page.click("text=Download CSV")
        text = Path(download.value.path()).read_text(encoding="utf-8")
        assert text.startswith("section,day,language,what,value")
        page.click("text=Print view")
        page.wait_for_selector("text=Hotline report")
        page.emulate_media(media="print")
        assert not page.is_visible("header")
        page.screenshot(path=str(SHOTS / "reports-print.png"), full_page=True)
        assert not [p for p in problems if "Content Security Policy" in p or "Refused" in p], \
            problems
        chrome.close()
