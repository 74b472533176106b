"""Reports for the CSO and its funders (admins only): the anonymous event counts of a period as
figures, charts (SVG drawn on the server by pygal), a CSV of the same figures and a print view.
The page, the charts and the print view speak the console's language; the CSV stays in English
(its sections and headers are names for a spreadsheet or a script, the same in every language).

Every chart, table and CSV row comes from one `Figures`, so they cannot disagree. The charts are
separate images: their own style sheet lives inside the SVG, which the console's page policy
(no inline style) would refuse in the page; as an <img> an SVG runs no script, and its response
carries a policy of its own that allows its inline style and nothing else.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import statistics
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pygal
import redis
from flask import Blueprint, Response, abort, current_app, render_template, request, url_for
from flask_babel import format_date, format_number
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from pygal.style import Style

from hotline.console import i18n, views
from hotline.content.ivr import Content
from hotline.services import Services
from hotline.state.events import Count

bp = Blueprint("reports", __name__, url_prefix="/console/reports")
MAX_DAYS = 400  # the events' lifetime
NONE = "none"  # the language of a call that hung up before choosing one, of a multilingual SMS
TOP_ITEMS = 10
SVG_POLICY = "default-src 'none'; style-src 'unsafe-inline'"
CHARTS = ("calls", "sms", "items", "funnel", "callbacks")
# The page's and the charts' names for the figures' keys (the CSV keeps the keys).
MEASURES = {"heard": _l("heard"), "heard to the end": _l("heard to the end"),
            "sms": _l("answered by SMS")}
CALLBACKS = {"requested": _l("requested"), "joined": _l("joined an open request"),
             "taken": _l("taken by a mediator")}
OUTCOME_NAMES = {"reached": _l("reached"), "no_answer": _l("no answer"),
                 "wrong_number": _l("wrong number"), "referred": _l("referred"),
                 "cancelled": _l("cancelled"),
                 "unreachable after attempts": _l("unreachable after attempts")}


def _svg_policy(response: Response) -> Response:
    """An SVG keeps a policy of its own: its inline style sheet, nothing else (registered before
    the console's headers, so it runs after them: Flask runs these in reverse order)."""
    if response.mimetype == "image/svg+xml":
        response.headers["Content-Security-Policy"] = SVG_POLICY
    return response


# The console's headers, login page context and database error page, as on its other pages.
bp.after_request(_svg_policy)
bp.after_request(views._headers)
bp.context_processor(views._common)
bp.register_error_handler(redis.RedisError, views.redis_down)
views.register_errors(bp)


@dataclass
class Figures:
    """The figures of a period, from the event counts and the callback waits."""

    first: dt.date
    last: dt.date
    langs: list[str]
    calls: dict[dt.date, Counter[str]] = field(default_factory=dict)  # day -> lang -> calls
    sms: dict[dt.date, Counter[str]] = field(default_factory=dict)  # day -> lang -> answered
    segments: Counter[str] = field(default_factory=Counter)  # lang -> SMS segments sent
    items: dict[str, Counter[str]] = field(default_factory=dict)  # item -> measure -> count
    funnel: Counter[int] = field(default_factory=Counter)  # menu level -> calls reaching it
    hangups: Counter[str] = field(default_factory=Counter)  # node -> calls ended there
    codes: Counter[str] = field(default_factory=Counter)  # item -> codes used
    sms_about: Counter[str] = field(default_factory=Counter)  # command or menu -> SMS
    callbacks: Counter[str] = field(default_factory=Counter)  # requested, joined, taken…
    outcomes: Counter[str] = field(default_factory=Counter)  # outcome or final status -> count
    undelivered: Counter[str] = field(default_factory=Counter)  # lang -> SMS not delivered
    waits: list[int] = field(default_factory=list)  # seconds, each ticket's first wait

    @property
    def days(self) -> list[dt.date]:
        return [self.first + dt.timedelta(days=i)
                for i in range((self.last - self.first).days + 1)]

    def wait_percentile(self, q: int) -> int | None:
        """The q-th percentile of the waits in seconds (nearest rank); None without waits."""
        if not self.waits:
            return None
        ordered = sorted(self.waits)
        return ordered[max(0, -(-q * len(ordered) // 100) - 1)]

    @property
    def wait_median(self) -> float | None:
        return statistics.median(self.waits) if self.waits else None

    def top_items(self) -> list[tuple[str, Counter[str]]]:
        """The items most asked for (heard on the line + answered by SMS), most first."""
        ranked = sorted(self.items.items(),
                        key=lambda kv: (-(kv[1]["heard"] + kv[1]["sms"]), kv[0]))
        return [kv for kv in ranked if kv[1]["heard"] + kv[1]["sms"]][:TOP_ITEMS]


def figures(counts: list[Count], waits: list[tuple[dt.date, str, int]], content: Content,
            first: dt.date, last: dt.date) -> Figures:
    """Add up `counts` and `waits` of days `first` to `last` into the report's figures."""
    langs = list(content.languages)
    out = Figures(first, last, langs)
    for day in out.days:
        out.calls[day], out.sms[day] = Counter(), Counter()
    started: Counter[dt.date] = Counter()
    infos = {n for n, node in content.nodes.items() if node.type == "info"}
    for c in counts:
        if c.name == "call":
            started[c.day] += c.count
        elif c.name == "reached":
            out.funnel[int(c.what)] += c.count
            if c.what == "1":  # a call counts once in the language it had at the main menu
                out.calls[c.day][c.lang or NONE] += c.count
        elif c.name == "sms":
            out.sms[c.day][c.lang or NONE] += c.count
            if c.what in infos:
                out.items.setdefault(c.what, Counter())["sms"] += c.count
            else:
                out.sms_about[c.what] += c.count
        elif c.name == "sms_segments":
            out.segments[c.lang or NONE] += c.count
        elif c.name in ("heard", "item_done", "sms_by_voice") and c.what in infos:
            measure = {"heard": "heard", "item_done": "heard to the end",
                       "sms_by_voice": "sent by SMS in a call"}[c.name]
            out.items.setdefault(c.what, Counter())[measure] += c.count
        elif c.name == "call_end":
            out.hangups[c.what or NONE] += c.count
        elif c.name == "code":
            out.codes[c.what] += c.count
        elif c.name in ("cb_requested", "cb_joined", "cb_taken"):
            out.callbacks[c.name[3:]] += c.count
        elif c.name == "cb_outcome":
            out.outcomes[c.what] += c.count
        elif c.name == "cb_closed" and c.what == "unreachable":
            out.outcomes["unreachable after attempts"] += c.count
        elif c.name == "sms_undelivered":
            out.undelivered[c.lang or NONE] += c.count
    for day in out.days:  # calls that never reached the main menu
        missing = started[day] - sum(out.calls[day].values())
        if missing > 0:
            out.calls[day][NONE] += missing
    out.waits = [seconds for _day, _lang, seconds in waits]
    return out


def rows(f: Figures) -> Iterator[tuple[str, str, str, str, int | float | str]]:
    """The figures as (section, day, language, what, value): the CSV, line by line."""
    for section, by_day in (("calls", f.calls), ("sms", f.sms)):
        for day in f.days:
            for lang in _langs(f, by_day):
                yield section, day.isoformat(), lang, "", by_day[day][lang]
    for lang, count in sorted(f.segments.items()):
        yield "sms segments sent", "", lang, "", count
    for lang, count in sorted(f.undelivered.items()):
        yield "sms undelivered", "", lang, "", count
    for about, count in sorted(f.sms_about.items()):
        yield "sms answers", "", "", about, count
    for item, measures in sorted(f.items.items()):
        for measure in ("heard", "heard to the end", "sent by SMS in a call", "sms"):
            yield f"item {measure if measure != 'sms' else 'answered by SMS'}", "", "", item, \
                measures[measure]
    for level in sorted(f.funnel):
        yield "menu level reached", "", "", _level(level), f.funnel[level]
    for node, count in sorted(f.hangups.items()):
        yield "call ended at", "", "", node, count
    for item, count in sorted(f.codes.items()):
        yield "shortcut code used", "", "", item, count
    for what, count in sorted(f.callbacks.items()):
        yield "callbacks", "", "", what, count
    for what, count in sorted(f.outcomes.items()):
        yield "callback outcomes", "", "", what, count
    yield "callback wait seconds", "", "", "tickets", len(f.waits)
    yield "callback wait seconds", "", "", "median", _blank(f.wait_median)
    yield "callback wait seconds", "", "", "90th percentile", _blank(f.wait_percentile(90))


def _blank(value: float | None) -> float | str:
    return "" if value is None else value


def _langs(f: Figures, by_day: dict[dt.date, Counter[str]]) -> list[str]:
    """The content's languages, then "none" when some count has no language."""
    seen = {lang for counts in by_day.values() for lang in counts}
    return [*f.langs, *sorted(seen - set(f.langs))]


def _level(level: int) -> str:
    return {0: "0 language menu", 1: "1 main menu"}.get(level, f"{level} menu or item")


def level_name(level: int) -> str:
    """A menu level as the page and the chart name it, in the console's language."""
    if level == 0:
        return _("0 language menu")
    if level == 1:
        return _("1 main menu")
    return _("%(level)s menu or item", level=format_number(level))


def lang_name(lang: str) -> str:
    """A series' language: its code, or "none" in the console's language."""
    return _("none") if lang == NONE else lang


def duration(seconds: float) -> str:
    """A wait as minutes and seconds ("20 min 05 s")."""
    rest = f"{int(seconds % 60):02d}"
    return _("%(minutes)s min %(seconds)s s", minutes=format_number(int(seconds // 60)),
             seconds=rest)


# --- charts -------------------------------------------------------------------------------------

STYLE = Style(background="white", plot_background="white", font_family="sans-serif",
              label_font_size=14, major_label_font_size=14, legend_font_size=15,
              title_font_size=17, value_font_size=14, tooltip_font_size=14,
              no_data_font_size=24)


def _chart(kind: type[pygal.graph.graph.Graph], title: str, most: int,
           **config: object) -> pygal.Graph:
    """A chart small enough to stay legible on a phone, counted in whole numbers up to
    `most`."""
    step = max(1, -(-most // 5))
    options: dict[str, object] = {"legend_at_bottom_columns": 3, "value_formatter": format_number,
                                  **config}
    return kind(style=STYLE, js=[], width=400, height=340, title=title,
                disable_xml_declaration=True, legend_at_bottom=True, print_values=False,
                show_minor_x_labels=False, truncate_legend=-1, truncate_label=-1,
                y_labels=list(range(0, most + step, step)), no_data_text=_("No data"), **options)


def chart(name: str, f: Figures, labels: dict[str, str] | None = None) -> str:
    """The SVG of chart `name` (one of CHARTS); `labels` name the items (default: their
    node names)."""
    labels = labels or {}
    if name in ("calls", "sms"):
        by_day = f.calls if name == "calls" else f.sms
        most = max((sum(by_day[day].values()) for day in f.days), default=0)
        c = _chart(pygal.StackedBar, _("Calls per day") if name == "calls" else _("SMS per day"),
                   most, x_label_rotation=45, x_labels_major_every=max(1, len(f.days) // 6))
        c.x_labels = [format_date(day, "d MMM") for day in f.days]
        for lang in _langs(f, by_day):
            values = [by_day[day][lang] for day in f.days]
            if any(values):
                c.add(lang_name(lang), values)
    elif name == "items":
        top = f.top_items()
        c = _chart(pygal.HorizontalBar, _("Top %(count)s items", count=TOP_ITEMS),
                   max((m["heard"] + m["sms"] for _item, m in top), default=0),
                   legend_at_bottom_columns=1)
        c.x_labels = [labels.get(item, item) for item, _measures in top]
        for measure, label in MEASURES.items():
            c.add(str(label), [measures[measure] for _item, measures in top])
    elif name == "funnel":
        c = _chart(pygal.Bar, _("Calls reaching each menu level"),
                   max(f.funnel.values(), default=0))
        levels = sorted(f.funnel)
        c.x_labels = [level_name(level) for level in levels]
        c.add(_("calls"), [f.funnel[level] for level in levels])
    elif name == "callbacks":
        c = _chart(pygal.Bar, _("Callback outcomes"), max(f.outcomes.values(), default=0))
        names = sorted(f.outcomes)
        c.x_labels = [str(OUTCOME_NAMES.get(n, n)) for n in names]
        c.add(_("tickets"), [f.outcomes[n] for n in names])
    else:
        abort(404)
    if not c.raw_series:
        c.y_labels = None  # pygal fails on y labels without a series; it draws "No data"
    return str(c.render(is_unicode=True))


# --- views --------------------------------------------------------------------------------------


def _services() -> Services:
    return current_app.extensions["hotline"]


def _period() -> tuple[dt.date, dt.date]:
    """The period the query string asks for (`from`, `to`: YYYY-MM-DD); the last 30 days by
    default. 400 Bad Request for a malformed or reversed one, or one longer than MAX_DAYS."""
    today = dt.datetime.now(_services().hours.zone).date()
    try:
        last = dt.date.fromisoformat(request.args.get("to") or today.isoformat())
        first = dt.date.fromisoformat(request.args.get("from") or
                                      (last - dt.timedelta(days=29)).isoformat())
    except ValueError:
        abort(400)
    if first > last or (last - first).days >= MAX_DAYS:
        abort(400)
    return first, last


def _figures() -> Figures:
    services = _services()
    first, last = _period()
    return figures(services.events.read(first, last), services.events.waits(first, last),
                   services.content, first, last)


def _presets(today: dt.date) -> list[tuple[str, dt.date, dt.date]]:
    quarter_start = dt.date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    previous_end = quarter_start - dt.timedelta(days=1)
    previous_start = dt.date(previous_end.year, 3 * ((previous_end.month - 1) // 3) + 1, 1)
    return [(_("Last 7 days"), today - dt.timedelta(days=6), today),
            (_("Last 30 days"), today - dt.timedelta(days=29), today),
            (_("This quarter"), quarter_start, today),
            (_("Last quarter"), previous_start, previous_end)]


@bp.get("/")
@views.admin_required
def page() -> str:
    """The period picker, the charts and their figures as tables."""
    return _render(printing=False)


@bp.get("/print")
@views.admin_required
def printable() -> str:
    """The same report laid out for printing (a quarterly report)."""
    return _render(printing=True)


def _render(printing: bool) -> str:
    f = _figures()
    period: dict[str, Any] = {"from": f.first.isoformat(), "to": f.last.isoformat()}
    today = dt.datetime.now(_services().hours.zone).date()
    return render_template(
        "console/reports.html", f=f, period=period, printing=printing,
        presets=[(label, {"from": a.isoformat(), "to": b.isoformat()})
                 for label, a, b in _presets(today)],
        charts={name: url_for("reports.svg", name=name, **period) for name in CHARTS},
        calls_langs=_langs(f, f.calls), sms_langs=_langs(f, f.sms), level=level_name,
        call_totals=_totals(f.calls), sms_totals=_totals(f.sms), duration=duration,
        lang_none=lang_name(NONE), callback_names=CALLBACKS, outcome_names=OUTCOME_NAMES)


@bp.get("/chart/<name>.svg")
@views.admin_required
def svg(name: str) -> Response:
    """One chart as an SVG image."""
    if name not in CHARTS:
        abort(404)
    sms = _services().sms.languages
    english = sms.get("en") or next(iter(sms.values()))
    labels = {**english.labels, **(sms.get(i18n.language()) or english).labels}
    return Response(chart(name, _figures(), labels), mimetype="image/svg+xml")


@bp.get("/report.csv")
@views.admin_required
def csv_file() -> Response:
    """The report's figures as CSV: section, day, language, what, value."""
    f = _figures()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(("section", "day", "language", "what", "value"))
    writer.writerows(rows(f))
    name = f"hotline-report-{f.first.isoformat()}-{f.last.isoformat()}.csv"
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename={name}"})


def _totals(by_day: dict[dt.date, Counter[str]]) -> Counter[str]:
    """Totals per language over the period."""
    totals: Counter[str] = Counter()
    for counts in by_day.values():
        totals.update(counts)
    return totals
