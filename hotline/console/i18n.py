"""The console's languages (Flask-Babel): English, French and Dutch. A mediator's own choice (kept
with their account, `hotline.console.mediators`) wins; before login, and for a mediator who never
chose, the browser's Accept-Language picks, English by default. No cookie of its own.

Dates, times and numbers are written as FORMATS says (fr_BE, nl_BE, en_GB: day first, 24-hour
clock), in the service's time zone (HOTLINE_TIMEZONE). The catalogues are
`translations/<lang>/LC_MESSAGES/messages.po` beside this file, extracted with `babel.cfg` and
compiled to the `.mo` files committed beside them (`make translations`); tests/test_console_i18n.py
checks that every string has a French and a Dutch translation and that each `.mo` is up to date.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from babel import Locale
from babel.dates import format_skeleton
from flask import Flask, current_app, g, has_request_context, request
from flask_babel import (
    Babel,
    format_date,
    format_number,
    format_time,
    format_timedelta,
    get_locale,
    to_user_timezone,
)
from flask_babel import gettext as _

LOCALES = ("en", "fr", "nl")  # English is the source language: it has no catalogue
DEFAULT = "en"
# How each writes dates and numbers: Belgium's French and Dutch; British English (day before
# month and a 24-hour clock as in Belgium, but "1,234.5" as English readers expect).
FORMATS = {"en": "en_GB", "fr": "fr_BE", "nl": "nl_BE"}
TRANSLATIONS = Path(__file__).resolve().parent / "translations"


def browser_locale() -> str:
    """The best of LOCALES for the request's Accept-Language; DEFAULT without a match."""
    if not has_request_context():
        return DEFAULT
    return request.accept_languages.best_match(LOCALES, default=DEFAULT)


def chosen_locale() -> str:
    """The language of this request: the logged-in mediator's choice, else the browser's."""
    mediator = g.get("mediator")
    stored = getattr(mediator, "locale", None)
    return stored if stored in LOCALES else browser_locale()


def _select() -> str:
    return FORMATS.get(chosen_locale(), chosen_locale())


def _timezone() -> str:
    return str(current_app.extensions["hotline"].settings.timezone)


def language() -> str:
    """The language code of the current locale ("fr"), for `<html lang>`."""
    locale = get_locale()
    return locale.language if locale else DEFAULT


def native_names() -> dict[str, str]:
    """Each of LOCALES by its own name ("Français", "Nederlands", "English")."""
    return {code: (Locale.parse(code).display_name or code).capitalize() for code in LOCALES}


def init_app(app: Flask) -> None:
    """Set up Flask-Babel on `app` with the console's catalogues, locale and time zone."""
    Babel(app, locale_selector=_select, timezone_selector=_timezone,
          default_translation_directories=str(TRANSLATIONS))
    app.jinja_env.globals.update(html_lang=language, console_locales=native_names(), when=when,
                                 now_in_words=now_in_words, wait_words=minutes)
    app.jinja_env.filters["number"] = format_number


def when(epoch: float) -> str:
    """A moment as a mediator reads it, in the service's time zone ("lun. 30 nov. 15:58")."""
    local = to_user_timezone(dt.datetime.fromtimestamp(epoch, dt.UTC))
    locale = get_locale()
    return (f"{format_skeleton('MMMEd', local, locale=locale)} "
            f"{format_skeleton('Hm', local, locale=locale)}")


def now_in_words() -> str:
    """Now, in full, in the service's time zone ("lundi 30 novembre 2026, 15:58")."""
    local = to_user_timezone(dt.datetime.now(dt.UTC))
    return _("%(date)s, %(time)s", date=format_date(local, "full"),
             time=format_time(local, "short"))


def minutes(seconds: float) -> str:
    """A wait in words, rounded to the nearest unit ("5 minutes", "5 minuten", "2 hours")."""
    return format_timedelta(dt.timedelta(seconds=seconds), threshold=1.5)
