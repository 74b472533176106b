"""Every console page a person reaches, audited by axe-core in a real headless Chromium at a small
phone's width (360 px), in each of the console's languages (a browser set to it): no violation of
impact "serious" or "critical", `<html lang>` the language shown, and nothing wider than the
screen."""

from __future__ import annotations

import pytest

from hotline.callbacks.requests import open_request
from tests.helpers import MOBILE, PASSWORD
from tests.test_console_browser import CHROMIUM, FLAGS, playwright_api, served
from tests.test_content_browser import MICROPHONE

axe_api = pytest.importorskip("axe_playwright_python.sync_playwright",
                              reason="pip install axe-playwright-python")
pytestmark = [pytest.mark.slow, pytest.mark.skipif(CHROMIUM is None, reason="no chromium")]
__all__ = ["served"]  # fixture
BLOCKING = ("serious", "critical")
BROWSERS = {"en": "en-GB", "fr": "fr-BE", "nl": "nl-BE"}  # a browser's language, per language


def _audit(page, axe, name: str, lang: str = "en") -> list[str]:
    """The page's serious or critical axe violations (rule, impact, target), a width problem, and
    a page not marked as in `lang`."""
    found = []
    shown = page.evaluate("document.documentElement.lang")
    if shown != lang:
        found.append(f"{name}: <html lang={shown!r}>, not {lang!r}")
    for violation in axe.run(page).response["violations"]:
        if violation["impact"] in BLOCKING:
            targets = [" ".join(map(str, node["target"])) for node in violation["nodes"]]
            found.append(f"{name}: {violation['id']} ({violation['impact']}) {targets}")
    width = page.evaluate("document.documentElement.scrollWidth")
    if width > 360:
        found.append(f"{name}: {width} px wide on a 360 px screen")
    return found


def _log_in(page, served: str, login: str, password: str = PASSWORD) -> None:
    page.goto(f"{served}/console/login")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


@pytest.mark.parametrize("lang", BROWSERS)
def test_every_console_page_passes_axe_at_360_px(services, served, lang):
    services.mediators.add("amina", "Amina", ["fr", "ar"], "+32470999888", PASSWORD,
                           role="admin")
    services.mediators.add("eva", "Eva", ["fr"], "+32470999666", PASSWORD, role="editor")
    ref, _ = open_request(services, MOBILE, "fr", "cpas", "ma voisine Fatima",
                          confirm_by_sms=False)
    axe = axe_api.Axe()
    found: list[str] = []
    with playwright_api.sync_playwright() as pw:
        chrome = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS + MICROPHONE)

        admin = chrome.new_context(viewport={"width": 360, "height": 740},
                                   locale=BROWSERS[lang]).new_page()
        admin.goto(f"{served}/console/login")
        found += _audit(admin, axe, "login", lang)
        _log_in(admin, served, "amina", "wrong password")
        admin.wait_for_selector("[role=alert]")
        found += _audit(admin, axe, "login refused", lang)
        _log_in(admin, served, "amina")
        admin.wait_for_selector("#as-of")
        found += _audit(admin, axe, "queues", lang)
        admin.click("form[action$='/take'] button")  # the ticket as its mediator sees it
        admin.wait_for_selector("#number")
        assert admin.url.endswith(f"/console/ticket/{ref}")
        assert admin.is_visible("#number")
        found += _audit(admin, axe, "ticket", lang)
        for name, path in [("admin", "/console/admin"), ("reports", "/console/reports/")]:
            admin.goto(f"{served}{path}")
            admin.wait_for_load_state("networkidle")
            assert admin.url.endswith(path), admin.url
            found += _audit(admin, axe, name, lang)

        editor_context = chrome.new_context(viewport={"width": 360, "height": 740},
                                            locale=BROWSERS[lang])
        editor_context.grant_permissions(["microphone"], origin=served)
        editor = editor_context.new_page()
        _log_in(editor, served, "eva")
        for name, path in [("content", "/console/content/"),
                           ("language", "/console/content/fr"),
                           ("prompt", "/console/content/fr/welcome"),
                           ("script", "/console/content/fr/script")]:
            editor.goto(f"{served}{path}")
            editor.wait_for_load_state("networkidle")
            assert editor.url.endswith(path), editor.url
            if name == "prompt":
                editor.wait_for_selector("#recorder", state="visible")
            found += _audit(editor, axe, name, lang)
        chrome.close()
    assert found == [], "\n".join(found)
