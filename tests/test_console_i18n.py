"""The console in French, Dutch and English (issue 13): the catalogues are complete and compiled,
the browser's Accept-Language picks the language until the mediator chooses one in the header's
switcher (kept with their account), and dates, times and numbers follow the language and the
service's time zone."""

from __future__ import annotations

import datetime as dt
import re
import time
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_date, format_skeleton
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from hotline.console.i18n import FORMATS, LOCALES, TRANSLATIONS
from tests.helpers import HTTPS, PASSWORD, REFERER, csrf, log_in, post, waiting_ticket

CONSOLE = TRANSLATIONS.parent
KEYWORDS = {"_": None, "gettext": None, "_l": None, "lazy_gettext": None}
# Each language: an Accept-Language asking for it, then words of its login page, queues page
# (logged in) and Reports page.
TABLE = {
    "fr": ("fr-BE,fr;q=0.9,en;q=0.5", "Se connecter", "Files de rappel", "Appels par jour"),
    "nl": ("nl-BE,nl;q=0.9", "Aanmelden", "Terugbelwachtrijen", "Oproepen per dag"),
    "en": ("en-GB,en;q=0.8", "Log in", "Callback queues", "Calls per day"),
}


def _html_lang(page: str) -> str:
    return re.search(r'<html lang="([^"]+)"', page).group(1)


def _get(client, path: str, accept: str | None = None):
    headers = {"Accept-Language": accept} if accept else {}
    return client.get(path, headers=headers, **HTTPS)


def _extracted() -> set[str]:
    """Every translatable string of the console's code and templates, as `make translations`
    extracts them (its babel.cfg)."""
    with open(CONSOLE / "babel.cfg", encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found = extract_from_dir(str(CONSOLE), method_map, options_map, keywords=KEYWORDS)
    return {message if isinstance(message, str) else message[0]
            for _file, _line, message, _comments, _context in found}


def _catalog(lang: str):
    with open(TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po", "rb") as po:
        return read_po(po, locale=lang)


# --- the catalogues -----------------------------------------------------------------------------


def test_the_languages_are_the_catalogues():
    assert sorted(p.name for p in TRANSLATIONS.iterdir() if p.is_dir()) == sorted(
        set(LOCALES) - {"en"})


@pytest.mark.parametrize("lang", ["fr", "nl"])
def test_every_console_string_has_a_translation(lang):
    """Nobody adds a string to the console without its French and Dutch (run `make translations`
    and translate what it adds to the .po files)."""
    strings = _extracted()
    assert len(strings) > 150  # the extraction found the console's strings
    catalog = _catalog(lang)
    untranslated = sorted(s for s in strings if not (catalog.get(s) and catalog.get(s).string))
    fuzzy = sorted(m.id for m in catalog if m.id and m.fuzzy)
    assert untranslated == [] and fuzzy == [], (untranslated, fuzzy)
    assert [(m.id, errors) for m, errors in catalog.check()] == []  # same %(name)s placeholders


def _messages(catalog) -> dict[object, object]:
    return {m.id: m.string for m in catalog if m.id and m.string and not m.fuzzy}


@pytest.mark.parametrize("lang", ["fr", "nl"])
def test_the_compiled_catalogue_is_its_po(lang):
    """The committed .mo holds what its .po says (`make translations-compile`): never stale."""
    with open(TRANSLATIONS / lang / "LC_MESSAGES" / "messages.mo", "rb") as mo:
        compiled = read_mo(mo)
    assert _messages(compiled) == _messages(_catalog(lang)), \
        f"run `make translations-compile` ({lang})"


@pytest.mark.parametrize("lang", ["fr", "nl"])
def test_the_translations_say_they_are_drafts(lang):
    assert "DRAFT" in (TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po").read_text()[:300]


# --- choosing the language ----------------------------------------------------------------------


@pytest.mark.parametrize("lang", TABLE)
def test_the_browser_picks_the_login_page_language(client, lang):
    accept, login_words, _queues, _reports = TABLE[lang]
    page = _get(client, "/console/login", accept).get_data(as_text=True)
    assert _html_lang(page) == lang
    assert f"<h1>{login_words}</h1>" in page


@pytest.mark.parametrize("accept", [None, "de-DE,de;q=0.9", "*", "xx-invalid;;q=",
                                    "ar;q=1, " * 200])
def test_without_a_language_of_the_console_it_is_english(client, accept):
    response = _get(client, "/console/login", accept)
    assert response.status_code == 200
    assert _html_lang(response.get_data(as_text=True)) == "en"


@pytest.mark.parametrize("lang", TABLE)
def test_a_mediator_who_never_chose_follows_the_browser(app, services, mediators, lang):
    accept, _login, queues_words, _reports = TABLE[lang]
    client = app.test_client()
    log_in(client, "amina")
    page = _get(client, "/console/", accept).get_data(as_text=True)
    assert _html_lang(page) == lang and queues_words in page
    assert services.mediators.get("amina").locale is None


@pytest.mark.parametrize("lang", TABLE)
def test_the_mediators_choice_beats_the_browser_and_is_kept(app, services, mediators, lang):
    services.mediators.add("zara", "Zara", ["fr"], "+32470999555", PASSWORD, role="admin")
    client = app.test_client()
    log_in(client, "zara")
    other = next(code for code in TABLE if code != lang)
    response = post(client, "/console/language", {"locale": lang, "next": "/console/reports/"})
    assert response.status_code == 303 and response.location.endswith("/console/reports/")
    assert services.mediators.get("zara").locale == lang
    page = _get(client, "/console/reports/", TABLE[other][0]).get_data(as_text=True)
    assert _html_lang(page) == lang and TABLE[lang][3] in page
    # kept with the account: a new session in another browser speaks it at once
    fresh = app.test_client()
    log_in(fresh, "zara")
    page = _get(fresh, "/console/", TABLE[other][0]).get_data(as_text=True)
    assert _html_lang(page) == lang and TABLE[lang][2] in page


@pytest.mark.parametrize("bad", ["de", "", "FR", "fr_BE", "fr-BE", "../en", "en\x00", "x" * 5000])
def test_a_language_the_console_does_not_speak_is_a_400_and_changes_nothing(app, services,
                                                                           mediators, bad):
    services.mediators.set_locale("amina", "nl")
    client = app.test_client()
    log_in(client, "amina")
    assert post(client, "/console/language", {"locale": bad}).status_code == 400
    assert services.mediators.get("amina").locale == "nl"


def test_the_switcher_needs_a_csrf_token_and_a_login(app, services, mediators):
    client = app.test_client()
    log_in(client, "amina")
    response = client.post("/console/language", data={"locale": "nl"}, headers=REFERER, **HTTPS)
    assert response.status_code == 400
    assert services.mediators.get("amina").locale is None
    stranger = app.test_client()
    token = csrf(stranger, "/console/login")
    response = stranger.post("/console/language", data={"locale": "nl", "csrf_token": token},
                             headers=REFERER, **HTTPS)
    assert response.status_code == 302 and "/console/login" in response.location
    assert services.mediators.get("amina").locale is None


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/console/",
                                    "/console/\\evil", "/elsewhere"])
def test_the_switcher_goes_back_to_console_pages_only(app, services, mediators, target):
    client = app.test_client()
    log_in(client, "amina")
    response = post(client, "/console/language", {"locale": "fr", "next": target})
    assert response.status_code == 303 and response.location.endswith("/console/")


def test_the_switcher_is_in_the_header_as_a_form(app, mediators):
    client = app.test_client()
    log_in(client, "amina")
    page = _get(client, "/console/", "nl").get_data(as_text=True)
    form = re.search(r'<form class="inline locales" method="post" action="/console/language"'
                     r".*?</form>", page, re.S).group(0)
    assert 'name="csrf_token"' in form
    assert re.findall(r'name="locale" value="(\w+)"', form) == list(LOCALES)
    assert 'value="nl" lang="nl" title="Nederlands" aria-current="true"' in form


# --- what the pages say, and how they write dates and numbers ---------------------------------


@pytest.mark.parametrize("lang", TABLE)
def test_flash_messages_speak_the_language(app, services, mediators, lang):
    services.mediators.set_locale("amina", lang)
    client = app.test_client()
    log_in(client, "amina")
    post(client, "/console/take")  # nothing waits
    page = _get(client, "/console/").get_data(as_text=True)
    expected = {"fr": "Aucun ticket n&#39;attend dans vos langues.",
                "nl": "Er wacht geen ticket in uw talen.",
                "en": "No ticket is waiting in your languages."}[lang]
    assert expected in page


def test_logging_out_says_so_in_the_login_pages_language(app, services, mediators):
    """The login page that follows speaks the browser's language: so does its message."""
    services.mediators.set_locale("amina", "nl")
    client = app.test_client()
    log_in(client, "amina")
    token = csrf(client, "/console/")
    client.post("/console/logout", data={"csrf_token": token}, headers={
        **REFERER, "Accept-Language": "fr-BE"}, **HTTPS)
    page = _get(client, "/console/login", "fr-BE").get_data(as_text=True)
    assert "Vous êtes déconnecté." in page and _html_lang(page) == "fr"


@pytest.mark.parametrize(("lang", "zone"), [("fr", "Europe/Brussels"), ("nl", "Europe/Brussels"),
                                            ("en", "Europe/Brussels"),
                                            ("fr", "America/Argentina/Buenos_Aires")])
def test_dates_in_the_language_and_the_services_time_zone(app, services, mediators, lang, zone):
    services.settings = services.settings.replace(timezone=zone)
    ref = waiting_ticket(app, services)
    services.mediators.set_locale("amina", lang)
    client = app.test_client()
    log_in(client, "amina")
    post(client, "/console/take")
    local = dt.datetime.fromtimestamp(services.callbacks.get(ref).created, ZoneInfo(zone))
    locale = FORMATS[lang]
    page = _get(client, f"/console/ticket/{ref}").get_data(as_text=True)
    asked = re.search(r'<td id="asked">([^<]+)</td>', page).group(1)
    expected = f"{format_skeleton('MMMEd', local, locale=locale)} {local:%H:%M}"
    assert asked == expected.replace("'", "&#39;")
    queues = _get(client, "/console/").get_data(as_text=True)
    assert format_date(dt.datetime.now(local.tzinfo).date(), "full", locale=locale) in queues


def test_the_queue_wait_in_words(app, services, mediators):
    ref = waiting_ticket(app, services)
    services.redis.hset(f"cb:ticket:{ref}", "created", repr(time.time() - 7 * 60))
    services.redis.zadd("cb:queue:fr", {ref: time.time() - 7 * 60})
    services.mediators.set_locale("bram", "nl")
    client = app.test_client()
    log_in(client, "bram")
    page = _get(client, "/console/").get_data(as_text=True)
    assert "7 minuten" in page


def test_reports_charts_and_print_view_in_french_csv_stays_english(client, services):
    services.mediators.add("zara", "Zara", ["fr"], "+32470999555", PASSWORD, role="admin")
    services.mediators.set_locale("zara", "fr")
    log_in(client, "zara")
    period = "from=2026-01-01&to=2026-01-31"
    svg = _get(client, f"/console/reports/chart/calls.svg?{period}").get_data(as_text=True)
    assert "Appels par jour" in svg and "15 janv." in svg and "Calls per day" not in svg
    assert ">0,5</text>" in svg and ">0.5</text>" not in svg  # the y axis, French-style
    funnel = _get(client, f"/console/reports/chart/funnel.svg?{period}").get_data(as_text=True)
    assert "Appels atteignant chaque niveau du menu" in funnel
    printed = _get(client, f"/console/reports/print?{period}").get_data(as_text=True)
    assert "Rapport de la ligne, du 1 janvier 2026 au 31 janvier 2026" in printed
    csv_text = _get(client, f"/console/reports/report.csv?{period}").get_data(as_text=True)
    assert csv_text.startswith("section,day,language,what,value")
    assert "menu level reached" in csv_text or "callback wait seconds" in csv_text


def test_numbers_in_the_language(client, services):
    """A count over a thousand, as each language writes it."""
    from hotline.state.events import events

    services.mediators.add("zara", "Zara", ["fr"], "+32470999555", PASSWORD, role="admin")
    for _ in range(2):
        services.events.add(*events("call", "fr"), *events("reached", "fr", "1"))
    services.redis.incrby("cap:sms:" + dt.datetime.now(dt.UTC).strftime("%Y%m%d"), 1234)
    log_in(client, "zara")
    for lang, written in (("fr", "1\u202f234"), ("nl", "1.234"), ("en", "1,234")):
        services.mediators.set_locale("zara", lang)
        page = _get(client, "/console/admin").get_data(as_text=True)
        assert written in page, lang


def test_the_database_error_page_speaks_the_browsers_language(client, services, mediators):
    log_in(client, "amina")
    services._redis = None
    services.settings = services.settings.replace(redis_url="redis://127.0.0.1:1/0")
    response = _get(client, "/console/", "nl-BE")
    assert response.status_code == 503
    text = response.get_data(as_text=True)
    assert "De console kan haar databank nu niet bereiken" in text and _html_lang(text) == "nl"


def test_recorder_words_come_from_the_page(app, services):
    services.mediators.add("eva", "Eva", ["fr"], "+32470999666", PASSWORD, role="editor")
    services.mediators.set_locale("eva", "nl")
    client = app.test_client()
    log_in(client, "eva")
    page = _get(client, "/console/content/fr/welcome").get_data(as_text=True)
    assert 'data-recording="Opname loopt… lees de tekst en druk dan op Stoppen."' in page
    script = (CONSOLE / "static" / "recorder.js").read_text()
    assert not re.search(r'textContent = "', script)  # no English left in the script


@pytest.mark.parametrize(("lang", "words"), [("fr", "Demande non comprise"),
                                             ("nl", "Verzoek niet begrepen"),
                                             ("en", "Request not understood")])
def test_a_form_without_its_csrf_token_gets_a_console_page_in_the_language(client, mediators,
                                                                          lang, words):
    log_in(client, "amina")
    response = client.post("/console/take", headers={**REFERER, "Accept-Language": lang},
                           **HTTPS)
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and f"<h1>{words}</h1>" in page
    assert _html_lang(page) == lang and response.headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize(("path", "status", "words"), [
    ("/console/admin", 403, "Niet toegestaan"),
    ("/console/reports/", 403, "Niet toegestaan"),
    ("/console/ticket/999999", 404, "Niet gevonden"),
    ("/console/reports/chart/nothing.svg", 403, "Niet toegestaan"),
    ("/console/content/", 403, "Niet toegestaan"),
])
def test_refusals_are_console_pages_in_the_mediators_language(client, services, mediators, path,
                                                             status, words):
    services.mediators.set_locale("bram", "nl")
    log_in(client, "bram")
    response = _get(client, path, "fr-BE")
    page = response.get_data(as_text=True)
    assert response.status_code == status and f"<h1>{words}</h1>" in page
    assert _html_lang(page) == "nl"


@pytest.mark.parametrize(("lang", "words"), [
    ("fr", "Pas conservé : ce n&#39;est pas un fichier son que la ligne peut lire"),
    ("nl", "Niet bewaard: geen geluidsbestand dat de lijn kan lezen"),
    ("en", "Not kept: not a sound file this line can read"),
])
def test_a_refused_take_says_why_in_the_language(app, services, lang, words):
    from tests.test_console_content import upload

    services.mediators.add("eva", "Eva", ["fr"], "+32470999666", PASSWORD, role="editor")
    services.mediators.set_locale("eva", lang)
    client = app.test_client()
    log_in(client, "eva")
    response = upload(client, "/console/content/fr/welcome/recording", b"GIF89a" + b"\0" * 900,
                      name="photo.gif")
    assert response.status_code == 400 and words in response.get_data(as_text=True)
