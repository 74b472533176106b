"""The console in a real headless browser (Debian's chromium driven by Playwright): log in, take
the next ticket, see it, record an outcome, log out."""

from __future__ import annotations

import shutil
import threading
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


@pytest.fixture
def served(app):
    services = app.extensions["hotline"]
    services.settings = services.settings.replace(public_base_url=None)
    server = make_server("localhost", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://localhost:{server.server_port}"
    server.shutdown()


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
