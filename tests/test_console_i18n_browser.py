"""The console in French, Dutch and English in a real headless Chromium (issue 13): a browser set to
a language sees the login page and, once logged in, the queues in it, with dates written its way;
the header's switcher changes the language of the next pages (queues, a ticket, the reports), and
the choice outlives logging out and in. On a phone's screen (360 px) and a desktop's."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_date

from hotline.callbacks.requests import open_request
from hotline.console.i18n import FORMATS
from tests.helpers import MOBILE, PASSWORD
from tests.test_console_browser import CHROMIUM, FLAGS, SHOTS, playwright_api, served

pytestmark = [pytest.mark.slow, pytest.mark.skipif(CHROMIUM is None, reason="no chromium")]
__all__ = ["served"]  # fixture
WORDS = {  # what each language calls: the login page, the queues, a ticket's history, reports
    "fr": {"login": "Se connecter", "queues": "Files de rappel", "history": "Notes et historique",
           "reports": "Rapports", "take": "Prendre le ticket suivant", "out": "Se déconnecter",
           "bye": "Vous êtes déconnecté.", "chart": "Appels par jour"},
    "nl": {"login": "Aanmelden", "queues": "Terugbelwachtrijen",
           "history": "Notities en geschiedenis", "reports": "Rapporten",
           "take": "Volgend ticket nemen", "out": "Afmelden", "bye": "U bent afgemeld.",
           "chart": "Oproepen per dag"},
    "en": {"login": "Log in", "queues": "Callback queues", "history": "Notes and history",
           "reports": "Reports", "take": "Take next ticket", "out": "Log out",
           "bye": "You are logged out.", "chart": "Calls per day"},
}


def _lang(page) -> str:
    return page.evaluate("document.documentElement.lang")


def _fits(page, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def _log_in(page, served: str) -> None:
    page.fill("input[name=login]", "amina")
    page.fill("input[name=password]", PASSWORD)
    page.click("form:not(.inline) button[type=submit]")


@pytest.mark.parametrize(("browser", "start", "switch", "width"), [
    ("fr-BE", "fr", "nl", 360),
    ("nl-BE", "nl", "en", 1280),
    ("en-GB", "en", "fr", 360),
])
def test_a_mediator_reads_and_switches_the_console_language(services, served, browser, start,
                                                            switch, width):
    services.mediators.add("amina", "Amina", ["fr", "ar"], "+32470999888", PASSWORD,
                           role="admin")
    ref, _ = open_request(services, MOBILE, "fr", "cpas", "ma voisine Fatima",
                         confirm_by_sms=False)
    first, then = WORDS[start], WORDS[switch]
    with playwright_api.sync_playwright() as pw:
        chrome = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        context = chrome.new_context(locale=browser, viewport={"width": width, "height": 800})
        page = context.new_page()
        page.goto(f"{served}/console/")
        assert page.url.startswith(f"{served}/console/login")
        assert _lang(page) == start and page.inner_text("h1") == first["login"]
        _fits(page, width)

        _log_in(page, served)
        page.wait_for_selector(f"h1:text-is('{first['queues']}')")
        today = dt.datetime.now(ZoneInfo(services.settings.timezone)).date()
        assert format_date(today, "full", locale=FORMATS[start]) in page.inner_text("#as-of")
        _fits(page, width)

        page.click(f"button[name=locale][value={switch}]")  # the header's switcher, no script
        page.wait_for_selector(f"h1:text-is('{then['queues']}')")
        assert _lang(page) == switch and page.url.endswith("/console/")
        assert format_date(today, "full", locale=FORMATS[switch]) in page.inner_text("#as-of")
        assert page.get_attribute(f"button[value={switch}]", "aria-current") == "true"
        _fits(page, width)
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"queues-{switch}-{width}.png"))

        page.click(f"text={then['take']}")
        page.wait_for_selector(f"h2:text-is('{then['history']}')")
        assert page.inner_text("#number") == MOBILE and _lang(page) == switch
        assert f"/console/ticket/{ref}" in page.url
        _fits(page, width)

        page.click(f"header >> text={then['reports']}")
        page.wait_for_selector(f"h1:text-is('{then['reports']}')")
        assert _lang(page) == switch
        chart = page.get_attribute("#chart-calls", "src")
        assert then["chart"] in page.request.get(f"{served}{chart}").text()
        page.wait_for_load_state("networkidle")
        _fits(page, width)
        page.screenshot(path=str(SHOTS / f"reports-{switch}-{width}.png"), full_page=True)

        page.click(f"text={then['out']}")  # the login page speaks the browser's language again
        page.wait_for_selector(f"text={first['bye']}")
        assert _lang(page) == start and page.inner_text("h1") == first["login"]

        _log_in(page, served)  # the choice was kept with the account
        page.wait_for_selector(f"h1:text-is('{then['queues']}')")
        assert _lang(page) == switch
        chrome.close()
