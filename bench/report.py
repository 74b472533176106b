"""bench/RESULTS.md from the measured results: tables, each target met or MISSED, and why."""

from __future__ import annotations

import math
import operator
import statistics
from typing import TYPE_CHECKING, Any

from bench.client import LoopResult, percentile
from hotline.content.budget import BUDGET, ENFORCED
from hotline.content.budget import table as budget_table

if TYPE_CHECKING:
    from bench.run import Results

# The targets, as data: name -> (comparison, threshold, as the report writes it). A figure meets
# its target when `measured <comparison> threshold`; every verdict below is computed from here.
TARGETS: dict[str, tuple[str, float | bool, str]] = {
    "webhook throughput / bare route": (">=", 0.8, "≥ 0.8"),
    "webhook p99 ms": ("<", 25.0, "< 25 ms"),
    "take_next p99 ms": ("<", 5.0, "< 5 ms"),
    "every ticket taken exactly once": ("==", True, "yes"),
    "load errors": ("==", 0, "0"),
    "RQ queue drains after the load": ("==", True, "drains"),
    "median item, first call s": ("<=", BUDGET["median item"][0],
                                  f"≤ {BUDGET['median item'][0]:.0f} s"),
    "median item, language remembered s": ("<=", BUDGET["median item"][1],
                                           f"≤ {BUDGET['median item'][1]:.0f} s"),
    "no-op audio build s": ("<=", 1.5, "about 1 s (≤ 1.5)"),
}
COMPARISONS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt,
               "==": operator.eq}


def limit(target: str) -> float | bool:
    return TARGETS[target][1]


def met(target: str, measured: float | bool) -> bool:
    comparison, threshold, _ = TARGETS[target]
    return COMPARISONS[comparison](measured, threshold)


def verdict(target: str, measured: float | bool) -> str:
    return "met" if met(target, measured) else "**MISSED**"


def row(what: str, target: str | None, shown: str, measured: float | bool = math.nan) -> list[str]:
    """A summary row: what, the target as written, the figure as shown, the verdict (a row
    without a target says "(none set)" and "-")."""
    if target is None:
        return [what, "(none set)", shown, "-"]
    return [what, TARGETS[target][2], shown, verdict(target, measured)]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def table(header: list[str], rows: list[list[Any]], align: str = "") -> list[str]:
    """A markdown table; `align` gives 'l' or 'r' per column (default: first left, rest right)."""
    align = align or "l" + "r" * (len(header) - 1)
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join(":--" if a == "l" else "--:" for a in align) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return [*lines, ""]


def render(r: Results) -> str:
    """The whole document."""
    out = ["# Benchmarks: speed, cost and scale of the hotline", "",
           f"Written by `make bench` on {r.machine.get('date', '?')}. Every figure below comes "
           "from that one run; re-run it to refresh them (see the end). The webhook figures are "
           "ratios to a bare Flask route measured in the same minute, because this machine is "
           "shared and noisy (see *Who used the CPU*).", ""]
    if r.errors:
        out += ["**Some phases failed**; their figures are missing:", ""]
        out += [f"- {name}: `{error}`" for name, error in r.errors.items()]
        out.append("")
    out += _summary(r)
    out += _machine(r)
    out += _webhooks(r)
    out += _queue(r)
    out += _capacity(r)
    out += _load(r)
    out += _costs(r)
    out += _audio(r)
    out += _memory(r)
    out += _rerun(r)
    return "\n".join(out).rstrip() + "\n"


# --- the summary --------------------------------------------------------------------------------


def _ratio(c: Any) -> float:
    return statistics.median(c.round_ratios) if c.round_ratios else 0.0


def _summary(r: Results) -> list[str]:
    rows = []
    for c in r.webhooks:
        rows.append(row(f"webhook {c.name}: throughput vs bare route",
                        "webhook throughput / bare route", f"{_ratio(c):.2f}", _ratio(c)))
    floors = [statistics.median(c.signed_ratios) for c in r.webhooks if c.signed_ratios]
    if floors:
        rows.append(row("signed baseline (form read, signature checked, nothing else) vs bare "
                        "route: the most a signed webhook can reach", None,
                        f"{min(floors):.2f}–{max(floors):.2f}"))
    for c in r.webhooks:
        p99 = percentile(c.hotline.latencies, 99) * 1000
        rows.append(row(f"webhook {c.name}: p99 at {r.settings.connections} connections",
                        "webhook p99 ms", f"{p99:.1f} ms", p99))
    if r.queue:
        q = r.queue
        p99 = percentile(q.latencies, 99) * 1000
        rows.append(row(f"callback queue: take_next p99, {q.tickets:,} waiting, {q.takers} takers",
                        "take_next p99 ms", f"{p99:.1f} ms", p99))
        rows.append(row("callback queue: every ticket taken exactly once",
                        "every ticket taken exactly once",
                        "yes" if q.exactly_once else "no", q.exactly_once))
    if r.capacity:
        one = r.capacity[0]
        rows.append(row("capacity: simultaneous calls one core of web process holds", None,
                        f"{one.calls_per_core:,.0f}"))
        rows.append(row("capacity: calls held by " + ", ".join(
            f"{c.processes}" for c in r.capacity) + " web processes on one Redis", None,
            ", ".join(f"{c.calls_held:,.0f}" for c in r.capacity)))
    if r.load:
        errors = sum(r.load.errors.values())
        rows.append(row(f"load: errors, {r.settings.callers} callers + {r.settings.texters} "
                        f"texters, {r.load.seconds:.0f} s", "load errors", str(errors), errors))
        rows.append(row("load: p99 of all requests", None,
                        f"{percentile(r.load.all_latencies, 99) * 1000:.1f} ms"))
        drained = r.load.drain_seconds is not None
        rows.append(row("load: RQ queue drains afterwards", "RQ queue drains after the load",
                        f"in {r.load.drain_seconds:.1f} s" if drained else
                        f"not within {r.load.drain_waited:.0f} s ({r.load.jobs_waiting_after} "
                        "left)", drained))
    enforced = [c for c in r.caller if c.lang in ENFORCED]
    if enforced:
        firsts = {c.lang: c.figures()["median item"][0] for c in enforced}
        knowns = {c.lang: c.figures()["median item"][1] for c in enforced}
        rows.append(row("caller time: median item, first call (fr, nl, en)",
                        "median item, first call s",
                        ", ".join(f"{lang} {s:.0f} s" for lang, s in firsts.items()),
                        max(firsts.values())))
        rows.append(row("caller time: median item, language remembered (fr, nl, en)",
                        "median item, language remembered s",
                        ", ".join(f"{lang} {s:.0f} s" for lang, s in knowns.items()),
                        max(knowns.values())))
    if r.audio and r.audio.builds:
        noop, full = r.audio.builds[-1], r.audio.builds[0]
        rows.append(row("audio: no-op incremental build, all languages (the whole command)",
                        "no-op audio build s", f"{noop.wall_seconds:.1f} s",
                        noop.wall_seconds if noop.returncode == 0 else math.inf))
        rows.append(row("audio: full offline build, all languages", None,
                        f"{full.wall_seconds:.1f} s"))
    web = [v for k, v in r.memory.items() if k.startswith("gunicorn worker")]
    if web:
        rows.append(row("memory: one web worker after the load (VmRSS)", None,
                        f"{max(v or 0 for v in web):.0f} MiB"))
    if r.memory.get("rq worker"):
        rows.append(row("memory: the RQ worker after the load (VmRSS)", None,
                        f"{r.memory['rq worker']:.0f} MiB"))
    return ["## Summary", "", *table(["what", "target", "measured", ""], rows, "lrrl")]


# --- machine and commands -----------------------------------------------------------------------


def _machine(r: Results) -> list[str]:
    out = ["## Machine and commands", ""]
    rows = [[k, v] for k, v in r.machine.items()]
    rows.append(["load average at the end", r.load_average_end])
    out += table(["", ""], rows, "ll")
    out += ["Commands, exactly as run (the stack's from `/proc/<pid>/cmdline`):", "", "```"]
    out += [f"# {name}\n{command}" for name, command in r.commands.items()]
    out += ["```", "", "`hotline run` got this environment (the rest is the caller's):", ""]
    out += [f"- `{k}={v}`" for k, v in r.stack_env.items()]
    out += ["", "`HOTLINE_VAR_DIR` and `HOTLINE_AUDIO_ROOT` point into the bench's temporary "
            "folder: the checkout's `var/` and `audio_cache/` are not touched. The SMS daily cap "
            "is raised so that the load's SMS-by-voice never hit the production cap of 2,000 "
            "mid-run. No `TWILIO_ACCOUNT_SID`: outgoing SMS go to `hotline run`'s Twilio "
            "sandbox, on loopback.", "", "Settings: " + ", ".join(
                f"{k}={v}" for k, v in vars(r.settings).items() if k not in ("output", "keep")),
            "", "Time per phase: " + ", ".join(f"{k} {v:.0f} s" for k, v in r.phases.items()), ""]
    return out


def _cpu(shares: dict[str, float]) -> list[str]:
    rows = [[role, f"{share:.2f}"] for role, share in shares.items() if share >= 0.005
            or role == "whole machine"]
    return table(["process", "cores busy (1.00 = one core all the time)"], rows)


# --- webhooks -----------------------------------------------------------------------------------


def _webhooks(r: Results) -> list[str]:
    s = r.settings
    out = ["## 1. Webhooks: throughput and latency, as a ratio to a bare route", "",
           f"{s.connections} concurrent connections from an asyncio client (non-blocking sockets, "
           "HTTP/1.1 keep-alive offered; gunicorn's sync workers answer `Connection: close`, so "
           "every request opens a connection, and its latency includes the connect). Every "
           "hotline request comes from a new caller with a new CallSid or MessageSid, as in "
           "real traffic, and is signed as Twilio signs it; the signature is checked "
           "(`TWILIO_AUTH_TOKEN` set). Baseline: `bench/bare_app.py`, a Flask route answering a "
           "TwiML document of the same byte size, under the hotline's own gunicorn command line "
           f"(copied from `/proc`, only the address and app changed). Each case alternates "
           f"{s.slice_seconds:g} s of hotline and {s.slice_seconds:g} s of baseline, {s.rounds} "
           "times (the order flips each round), after an untimed warm-up; the ratio is the median "
           "of the per-round ratios, so a noisy moment affects both sides of its round alike.", ""]
    if not r.webhooks:
        return [*out, "Not measured (the phase failed).", ""]
    playing = [c.name for c in r.webhooks if c.plays]
    out += [("The voice answers play the audio files of the cache built in section 5 "
             "(`<Play>`, as in production once `hotline audio build` has run)" if playing else
             "The voice answers use `<Say>` (no audio cache was available)") + ".", ""]
    rows = []
    for c in r.webhooks:
        h, b = c.hotline, c.bare
        hr, br = h.ok / h.seconds, b.ok / b.seconds
        hp99, bp99 = percentile(h.latencies, 99), percentile(b.latencies, 99)
        rows.append([c.name, f"{statistics.mean(c.sizes):.0f}", f"{hr:,.0f}", f"{br:,.0f}",
                     f"**{_ratio(c):.2f}** ({min(c.round_ratios):.2f}–{max(c.round_ratios):.2f})",
                     ms(percentile(h.latencies, 50)), ms(hp99), ms(percentile(b.latencies, 50)),
                     ms(bp99), f"{hp99 / bp99:.1f}×" if bp99 else "-",
                     f"{statistics.median(c.signed_ratios):.2f}" if c.signed_ratios else "-",
                     f"{_ratio(c) / statistics.median(c.signed_ratios):.2f}"
                     if c.signed_ratios else "-",
                     ms(percentile(c.signed.latencies, 99)),
                     f"{h.errors} / {b.errors} / {c.signed.errors}"])
    out += table(["case", "answer bytes", "hotline req/s", "bare req/s",
                  "ratio (rounds min–max)", "hotline p50 ms", "hotline p99 ms", "bare p50 ms",
                  "bare p99 ms", "p99 vs bare", "signed baseline / bare",
                  "hotline / signed baseline", "signed baseline p99 ms", "errors h / b / s"],
                 rows)
    out += ["The signed baseline is the bare route after what every Twilio webhook must do "
            "first: read the form and check `X-Twilio-Signature` (the hotline's own check, "
            "`hotline.twilio.signatures`), measured in the same rounds. Its ratio to the bare "
            "route is the most any webhook that checks signatures can reach on this server "
            "configuration, before doing anything of its own; *hotline / signed baseline* (the "
            "two medians' quotient) is how close the hotline comes to that.", ""]
    out += _cpu_per_request(r)
    client = [c.hotline.cpu_seconds / c.hotline.seconds for c in r.webhooks]
    client_b = [c.bare.cpu_seconds / c.bare.seconds for c in r.webhooks]
    best_bare = max(c.bare.ok / c.bare.seconds for c in r.webhooks)
    needed = s.connections / (limit("webhook p99 ms") / 1000)
    out += [f"The client itself used {min(client):.2f}–{max(client):.2f} of a core while "
            f"driving the hotline and {min(client_b):.2f}–{max(client_b):.2f} while driving the "
            "baseline, out of the machine's two: it shares them with the server, which lowers "
            "the baseline more than the hotline (the ratio flatters the hotline a little).", "",
            f"On latency: with {s.connections} requests always in flight on 2 sync workers, a "
            "request mostly waits its turn; the mean latency is the connections divided by the "
            f"throughput (Little's law). A p99 under {limit('webhook p99 ms'):.0f} ms at "
            f"{s.connections} "
            f"connections needs well over {needed:,.0f} requests/s (the bare route reached "
            f"{best_bare:,.0f}/s at best here), so the hotline's p99 follows from its "
            "throughput: raise one and the other falls. " + _bare_p99(r), ""]
    if r.webhook_cpu:
        out += ["Who used the CPU during the webhook phase (bench and both servers included):", ""]
        out += _cpu(r.webhook_cpu)
    out += _profiles(r)
    return out


def _per_request(loop: LoopResult, role: str) -> float:
    """µs of `role`'s CPU (a server's, from /proc) per answered request of the slices."""
    return loop.server_cpu.get(role, 0.0) / loop.ok * 1e6 if loop.ok else 0.0


def _cpu_per_request(r: Results) -> list[str]:
    """What one answered request cost each server in CPU, from /proc around every slice."""
    if not any(c.hotline.server_cpu for c in r.webhooks):
        return []
    goal = float(limit("webhook throughput / bare route"))
    rows, spare = [], []
    for c in r.webhooks:
        web, data = _per_request(c.hotline, "web workers"), _per_request(c.hotline, "redis-server")
        bare, signed = _per_request(c.bare, "web workers"), _per_request(c.signed, "web workers")
        allowed = bare / goal
        spare.append(allowed - signed)
        rows.append([c.name, f"{web:,.0f}", f"{data:,.0f}", f"{bare:,.0f}", f"{signed:,.0f}",
                     f"{bare / (web + data):.2f}" if web + data else "-",
                     f"{web + data - signed:,.0f}", f"{allowed:,.0f}", f"{allowed - signed:,.0f}",
                     f"{c.hotline.cpu_seconds / c.hotline.ok * 1e6:,.0f} / "
                     f"{c.bare.cpu_seconds / c.bare.ok * 1e6:,.0f}"
                     if c.hotline.ok and c.bare.ok else "-"])
    out = ["What one answered request cost in CPU (user + system time of the server's processes "
           "from `/proc`, read before and after every slice, divided by the requests answered; "
           "µs). The hotline's own work is what it spends beyond the signed baseline, its Redis "
           "included:", ""]
    out += table(["case", "hotline web workers", "its Redis", "bare route", "signed baseline",
                  "bare / hotline", "the hotline's own work",
                  f"most a webhook may cost at {goal:g}", f"left for its own work at {goal:g}",
                  "client per request, hotline / bare"], rows)
    said = (f"At {goal:g} of the bare route's throughput a webhook may cost at most 1/{goal:g} "
            "of its CPU per request (when CPU is what limits both, as here: *bare / hotline* is "
            "the ratio that CPU alone would give). ")
    if max(spare) <= 0:
        said += ("Reading the form and checking the signature alone already cost more than that "
                 f"here (by {-max(spare):,.0f} to {-min(spare):,.0f} µs): by CPU, no webhook "
                 "that checks Twilio's signature reaches that ratio on this machine, whatever "
                 "else it does or does not do. The throughput ratios above differ from these CPU "
                 "ratios because the client shares the cores, and takes more of them while it "
                 "drives the faster side.")
    else:
        none = sum(1 for left in spare if left <= 0)
        said += ("Reading the form and checking the signature take part of that: what is left "
                 f"for everything else a webhook does is at most {max(spare):,.0f} µs per "
                 "request on this machine" + (f" (nothing at all in {none} of the "
                                              f"{len(spare)} cases)" if none else "") +
                 ", against the hotline's own work in the seventh column.")
    out += [said, ""]
    return out


def _bare_p99(r: Results) -> str:
    bare = [percentile(c.bare.latencies, 99) * 1000 for c in r.webhooks]
    if not met("webhook p99 ms", min(bare)):
        return (f"Even the bare route's p99 is {min(bare):.0f}–{max(bare):.0f} ms here: at "
                f"{r.settings.connections} connections this server configuration (2 sync "
                "workers on 2 cores, shared with the client) cannot meet the p99 target whatever "
                "the app does.")
    return (f"The bare route's p99 is {min(bare):.0f}–{max(bare):.0f} ms: the server "
            "configuration itself can meet the target; the hotline's extra work per request is "
            "what pushes its p99 over.")


def _profiles(r: Results) -> list[str]:
    missed = [c.name for c in r.webhooks if not met("webhook throughput / bare route", _ratio(c))
              or not met("webhook p99 ms", percentile(c.hotline.latencies, 99) * 1000)]
    out = ["### Profile of the webhook path", ""]
    if not r.profiles:
        return [*out, "No profile (the phase failed)." if "profile" in r.errors else
                "Not needed: every webhook target was met.", ""]
    out += [f"Targets missed for: {', '.join(missed) or 'none'}. The hotline app was built in "
            "the bench's process with the stack's settings (its Redis, keys and audio cache) and "
            "called through WSGI directly with the same signed requests, timed, then under "
            "cProfile; the bare app the same way. No HTTP server here: the per-request cost of "
            "gunicorn, the sockets and the client is what separates these figures from the "
            "HTTP ones.", ""]
    rows = [[p.case, f"{p.hotline_us:,.0f}", f"{p.bare_us:,.0f}", f"{p.signed_us:,.0f}",
             f"{p.hotline_us - p.bare_us:,.0f}", f"{p.bare_us / p.signed_us:.2f}"]
            for p in r.profiles]
    out += table(["case", "hotline µs/request", "bare µs/request",
                  "bare + form + signature µs", "the app's own work µs",
                  "bare / (bare + form + signature)"], rows)
    out += ["Every webhook must read Twilio's form and check its signature before anything else "
            "(the third column: the bare route doing only that, with the hotline's own check). "
            "The last column is the most any signed webhook could reach in-process against the "
            "bare route, with nothing else to do.", ""]
    out += ["The largest parts, per case: " + "; ".join(
        f"{p.case}: " + ", ".join(f"{label.strip()} {share:.0%}" for label, share in sorted(
            (part for part in p.parts if not part[0].startswith("  ")),
            key=lambda part: -part[1])[:3]) for p in r.profiles) + ".", ""]
    for p in r.profiles:
        out += [f"**{p.case}**: where a request's time goes (share of the profiled time; µs: that "
                "share of the time without the profiler):", ""]
        out += table(["component", "share", "≈ µs"],
                     [[label.replace("  of which", "↳ of which"), f"{share:.0%}",
                       f"{share * p.hotline_us:,.0f}"] for label, share in p.parts])
        out += ["The functions behind it, by cumulative time per request (those wrapping "
                "everything left out; nested rows overlap; times inflated by the profiler):", ""]
        out += table(["function", "calls/request", "cumulative µs", "own µs", "share"],
                     [[f"`{h.where}`", f"{h.calls_per_request:g}", f"{h.cumulative_us:,.0f}",
                       f"{h.own_us:,.0f}", f"{h.share:.0%}"] for h in p.hotspots])
        out += ["Most own time:", ""]
        out += table(["function", "calls/request", "own µs", "share"],
                     [[f"`{h.where}`", f"{h.calls_per_request:g}", f"{h.own_us:,.0f}",
                       f"{h.own_us / p.hotline_us:.0%}" if p.hotline_us else "-"]
                      for h in p.own])
    return out


# --- callback queue -----------------------------------------------------------------------------


def _queue(r: Results) -> list[str]:
    out = ["## 2. Callback queue: take_next under contention", ""]
    q = r.queue
    if q is None:
        return [*out, "Not measured (the phase failed).", ""]
    out += [f"{q.tickets:,} waiting tickets ({', '.join(f'{k} {v:,}' for k, v in sorted(q.per_language.items()))}) "  # noqa: E501
            f"filled in {q.fill_seconds:.1f} s through `CallbackQueue.request`, on a Redis server "
            f"of the bench's own (started as `hotline run` starts it). {q.takers} processes (as "
            "web workers are), each a mediator with one to four languages and its own Redis "
            "connection, call `take_next` until nothing is left for them; a latency is timed "
            "in the taker, around the call.", ""]
    rows = [[f"{q.takers} takers at once", f"{len(q.latencies):,}",
             ms(percentile(q.latencies, 50)), ms(percentile(q.latencies, 99)),
             ms(max(q.latencies, default=0)), f"{len(q.latencies) / q.take_seconds:,.0f}"]]
    if q.alone:
        rows.append(["1 taker alone (reference)", f"{len(q.alone):,}",
                     ms(percentile(q.alone, 50)), ms(percentile(q.alone, 99)),
                     ms(max(q.alone)), "-"])
    out += table(["", "takes", "p50 ms", "p99 ms", "max ms", "takes/s"], rows)
    out += [f"Exactly once: {q.taken:,} taken, {q.distinct:,} distinct, {q.missing} never taken, "
            f"{q.duplicates} taken twice, {q.wrong_claims} not held by their taker, "
            f"{q.left_waiting} left waiting: **{'yes' if q.exactly_once else 'NO'}**.", ""]
    if q.server_usec:
        evalsha = q.server_usec.get("evalsha", 0)
        p99 = percentile(q.latencies, 99) * 1000
        out += [f"Where the time goes (Redis's own `INFO commandstats`): a `take_next` is one "
                f"round trip, one script (put overdue claims back, take the oldest, read the "
                f"ticket, count it) at {evalsha:.0f} µs of Redis time. The rest of a take's "
                f"latency is "
                f"waiting: for Redis, which runs one command at a time, and for a core: "
                f"{q.takers} taker processes and the Redis server share this machine's cores "
                "(the single taker shows the uncontended cost)."
                + (f" The p99 of {p99:.1f} ms is that queueing, not the script."
                   if not met("take_next p99 ms", p99) else ""), ""]
    if q.taker_cpu_seconds and q.latencies and q.cores:
        takes, cores = len(q.latencies), q.cores
        client = q.taker_cpu_seconds / takes * 1e6
        server = q.redis_cpu_seconds / takes * 1e6
        most = cores * 1e6 / (client + server)
        mean = statistics.mean(q.latencies) * 1000
        spread = percentile(q.latencies, 99) * 1000 / mean  # p99 / mean, as measured
        out += [f"What a take costs in CPU: {client:.0f} µs of the takers' (user and system, "
                f"from their rusage) and {server:.0f} µs of Redis's (its `INFO cpu`: the "
                f"script, its sockets and its append-only file), {client + server:.0f} µs "
                f"in all of this machine's {cores} cores: at most {most:,.0f} takes/s "
                f"(measured: {len(q.latencies) / q.take_seconds:,.0f}). With {q.takers} takers "
                f"always asking, a take then lasts at least {q.takers / most * 1000:.1f} ms on "
                f"average (Little's law; measured: {mean:.1f} ms), and the p99 was "
                f"{spread:.1f} times the mean. So a p99 under 5 ms needs the whole take under "
                f"about {cores * 5000 / spread / q.takers:.0f} µs of CPU, client and Redis "
                "together."]
        if q.round_trips:
            out += ["", "For scale, a bare round trip to the same Redis from one process "
                    "(median latency; the caller's own CPU per call):", ""]
            out += table(["command", "median µs", "caller CPU µs"],
                         [[name, f"{wall:.0f}", f"{cpu:.0f}"]
                          for name, (wall, cpu) in q.round_trips.items()])
        out += [""]
    return out


# --- capacity -----------------------------------------------------------------------------------


def _capacity(r: Results) -> list[str]:
    from bench.capacity import CALL_REQUEST_SECONDS

    out = ["## 2b. Capacity: simultaneous calls per core, and more web processes on one Redis", ""]
    if not r.capacity:
        return [*out, "Not measured (the phase failed).", ""]
    out += [f"A gunicorn of its own with 1, 2, then 4 worker processes (the stack's command line "
            "and environment, copied from /proc: the same Redis, keys and audio cache) is kept "
            f"saturated for {r.capacity[0].seconds:.0f} s each by {r.settings.connections} "
            "connections sending a call's requests (incoming calls, menu steps and information "
            "items in turn, each from a new caller and call, signed and checked). The CPU "
            "seconds of its workers and of the Redis server are read from /proc. A call makes "
            f"one request per ~{CALL_REQUEST_SECONDS:.0f} s of audio heard, so a core "
            "answering R requests per CPU-second holds "
            f"R × {CALL_REQUEST_SECONDS:.0f} simultaneous calls.", ""]
    rows = [[c.processes, f"{c.per_second:,.0f}", f"{c.web_cpu / c.seconds:.2f}",
             f"{c.per_core_second:,.0f}", f"{c.calls_per_core:,.0f}", f"{c.calls_held:,.0f}",
             ms(c.p99), f"{c.redis_usec:.0f}", f"{c.machine_cpu / c.seconds:.2f}", c.errors]
            for c in r.capacity]
    out += table(["web processes", "requests/s", "cores busy (web)", "requests per core-second",
                  "calls per core", "calls held", "p99 ms", "Redis µs/request",
                  "whole machine cores busy", "errors"], rows)
    one = r.capacity[0]
    redis_share = one.redis_usec / 1e6 * one.per_core_second if one.per_core_second else 0.0
    out += [f"One core of web process holds about **{one.calls_per_core:,.0f} simultaneous "
            f"calls** ({one.per_core_second:,.0f} requests per CPU-second × "
            f"{CALL_REQUEST_SECONDS:.0f} s). The Redis server spends {one.redis_usec:.0f} µs per "
            f"request, {redis_share:.2f} of a core per saturated web core: one Redis core "
            f"would serve about {1 / redis_share:,.0f} web cores before it is the limit."
            if redis_share else "", ""]
    out += ["This machine has 2 cores, shared by the client, the web processes and Redis: "
            "past 2 web processes the extra ones share the same cores, so the *calls held* "
            "column stops growing here while *calls per core* stays the figure that carries "
            "to a bigger machine.", ""]
    return out


# --- load ---------------------------------------------------------------------------------------


def _load(r: Results) -> list[str]:
    s = r.settings
    out = ["## 3. Load: callers and texters on the real stack", ""]
    ld = r.load
    if ld is None:
        return [*out, "Not measured (the phase failed).", ""]
    out += [f"{s.callers} simulated callers and {s.texters} texters for {ld.seconds:.0f} s "
            "(`bench/load.py`: each caller follows the TwiML, thinks 0.5–2 s, presses an offered "
            "key mostly, a wrong key or nothing sometimes, asks for items by SMS and for "
            "callbacks, leaves voice messages, hangs up now and then, then calls again).", ""]
    rows = []
    for kind, values in ld.latencies.items():
        rows.append([kind, f"{len(values):,}", f"{len(values) / ld.seconds:.1f}",
                     ms(percentile(values, 50)), ms(percentile(values, 99)), ms(max(values))])
    every = ld.all_latencies
    rows.append(["all", f"{len(every):,}", f"{len(every) / ld.seconds:.1f}",
                 ms(percentile(every, 50)), ms(percentile(every, 99)), ms(max(every, default=0))])
    out += table(["requests", "count", "per second", "p50 ms", "p99 ms", "max ms"], rows)
    errors = sum(ld.errors.values())
    out += [f"**Errors: {errors}**" + (": " + ", ".join(f"{k} ×{v}" for k, v in ld.errors.items())
                                       if errors else "") + ".", ""]
    out += table(["calls", "key presses and redirects", "line hung up", "caller hung up",
                  "items asked by SMS", "callback tickets", "voice messages", "texts",
                  "texts unanswered"],
                 [[f"{ld.calls:,}", f"{ld.steps:,}", f"{ld.line_hung_up:,}",
                   f"{ld.caller_hung_up:,}", f"{len(ld.sms_asked):,}", f"{ld.tickets:,}",
                   f"{ld.recordings:,}", f"{ld.texts:,}", f"{ld.texts_unanswered:,}"]])
    expected = len(ld.sms_asked) + ld.tickets
    drained = (f"drained in **{ld.drain_seconds:.1f} s**" if ld.drain_seconds is not None else
               f"**did not drain** within {ld.drain_waited:.0f} s: {ld.jobs_waiting_after} jobs "
               "left")
    out += ["The RQ queue (`hotline`):", ""]
    job_p50 = percentile(ld.job_seconds, 50) if ld.job_seconds else 0.0
    out += table(["most queued during the load", "queued at the end", "afterwards",
                  "jobs/s while draining", "finished", "failed", "job run time p50 s",
                  "SMS the sandbox received / asked for"],
                 [[ld.queue_max, ld.queue_at_end, drained, f"{ld.drain_rate:.1f}",
                   ld.jobs_finished, ld.jobs_failed, f"{job_p50:.2f}",
                   f"{ld.sandbox_sms} / {expected}"]])
    if ld.drain_seconds is None and ld.drain_rate > 0:
        out += [f"At {ld.drain_rate:.1f} jobs/s the {ld.jobs_waiting_after} left would take about "
                f"{ld.jobs_waiting_after / ld.drain_rate:.0f} s more. During the load SMS were "
                f"asked for at {expected / ld.seconds:.1f}/s: faster than the worker sends them.",
                ""]
    out += _job_profile(r)
    if r.load_cpu:
        out += ["Who used the CPU during the load:", ""]
        out += _cpu(r.load_cpu)
    return out


def _job_profile(r: Results) -> list[str]:
    jp = r.job_profile
    if jp is None:
        return []
    out = ["Where a job's time would go in a cold process: a plain `rq worker` forks a process "
           "for every job, which then imports the job's module and builds its services before "
           "sending; `hotline worker` does both once, before RQ forks, so its jobs start warm. "
           "One SMS job run in a fresh (cold) process, timed by phase:", ""]
    if jp.error:
        return [*out, f"(could not run: `{jp.error}`)", ""]
    out += table(["phase", "seconds"], [[k, f"{v:.3f}"] for k, v in jp.phases.items()])
    phases = list(jp.phases.values())
    total = float(sum(phases))
    if len(phases) == 3 and total:
        out += [f"Starting up (imports and services) is {(phases[0] + phases[1]) / total:.0%}"
                f" of the job; the sending itself {phases[2] / total:.0%}.", ""]
    if jp.imports:
        out += ["The modules whose own import work is heaviest (`python -X importtime -c 'import "
                "workers.jobs'`; *own*: the module's code alone, *cumulative*: with what it "
                "imports), which a cold process pays:", ""]
        out += table(["module", "own s", "cumulative s"],
                     [[f"`{m}`", f"{own:.3f}", f"{total:.3f}"] for m, own, total in jp.imports])
    return out


# --- cost and caller time -----------------------------------------------------------------------


def _costs(r: Results) -> list[str]:
    out = ["## 4. Cost and caller time", "", "### SMS segments per template and language", ""]
    if r.sms:
        rows_, per_lang = r.sms
        langs = list(per_lang)
        rows = []
        for row in rows_:
            values = [row.segments[lang] for lang in langs if lang in row.segments]
            rows.append([f"`{row.name}`", *(
                (f"{row.segments[lang]}{' U' if row.ucs2[lang] else ''}"
                 if lang in row.segments else "") for lang in langs),
                f"{statistics.mean(values):.2f}", max(values)])
        rows.append(["**mean**", *(f"{per_lang[lang][0]:.2f}" for lang in langs), "", ""])
        rows.append(["**worst**", *(str(per_lang[lang][1]) for lang in langs), "", ""])
        rows.append(["budget", *(str(per_lang[lang][2]) for lang in langs), "", ""])
        out += ["From `SmsContent.all_texts()` (menus assembled, placeholders filled with a "
                "sample) and `segments.cost`. `U`: sent as UCS-2. `*`: the multilingual texts.", ""]
        out += table(["template", *langs, "mean", "worst"], rows)
        over = [(row.name, lang) for row in rows_ for lang in langs
                if lang in row.segments and row.segments[lang] > per_lang[lang][2]]
        out += ["Over budget: " + (", ".join(f"{n} ({lang})" for n, lang in over) or "none") + ".",
                ""]
    out += ["### Caller time: seconds heard before each information item starts", ""]
    if not r.caller:
        return [*out, "Not measured (the phase failed).", ""]
    out += ["`hotline.content.budget`, the figures `hotline check` enforces: every item of every "
            "language, walking the engine, the caller pressing as soon as their option is "
            "spoken, with the durations of the bench cache's rendered files (espeak-ng offline at "
            "its configured rate; `~`: some estimated from their words). Audio only: Twilio's "
            "gaps between prompts and the caller's reaction time come on top.", "", "```",
            *budget_table(r.caller), "```", ""]
    remembered = r.remembered
    if remembered is not None:
        out += [("Remembered language: checked on the running stack: a number that chose a "
                 f"language and calls again hears {remembered[1]}.") if remembered[0] else
                ("Remembered language: **not working**: a number that chose a language and "
                 f"calls again hears {remembered[1]}."), ""]
    return out


# --- audio and memory ---------------------------------------------------------------------------


def _audio(r: Results) -> list[str]:
    out = ["## 5. Audio build", ""]
    a = r.audio
    if a is None:
        return [*out, "Not measured (the phase failed).", ""]
    out += [f"Invoked as {a.how}, into a cache of the bench's own (the checkout's "
            "`audio_cache/` is not touched), `--offline` (espeak-ng only: nothing leaves the "
            "machine). *Whole command*: wall time of the process, interpreter start and imports "
            "included; *builder*: the time the builder reports for its own work.", ""]
    out += table(["build", "whole command s", "builder s", "exit", "its summary"],
                 [[b.label, f"{b.wall_seconds:.2f}",
                   f"{b.own_seconds:.1f}" if b.own_seconds is not None else "-", b.returncode,
                   b.summary.replace("|", "/")] for b in a.builds])
    return out


def _memory(r: Results) -> list[str]:
    out = ["## 6. Memory after the load", ""]
    if not r.memory:
        return [*out, "Not measured.", ""]
    out += ["VmRSS (psutil's `memory_info().rss`), right after the load and the drain:", ""]
    out += table(["process", "MiB"], [[k, f"{v:.1f}" if v is not None else "gone"]
                                     for k, v in r.memory.items()])
    return out


def _rerun(_: Results) -> list[str]:
    return ["## How to re-run", "", "```sh",
            "make bench                          # about 4 minutes; writes bench/RESULTS.md",
            "BENCH_LOAD_SECONDS=15 make bench    # a shorter load",
            "BENCH_KEEP=1 make bench             # keep the logs and Redis data of the run",
            "```", "",
            "Other settings (`BENCH_CALLERS`, `BENCH_TEXTERS`, `BENCH_CONNECTIONS`, "
            "`BENCH_SLICE_SECONDS`, `BENCH_ROUNDS`, `BENCH_DRAIN_SECONDS`, `BENCH_TICKETS`, "
            "`BENCH_TAKERS`, `BENCH_CAPACITY_SECONDS`, `BENCH_OUTPUT`, or the same as "
            "options) are listed by `python -m bench.run --help`. It needs "
            "nothing but the project's virtualenv, uses loopback only, and stops every process "
            "it started before it exits. Run it on a quiet machine: the webhook ratios hold on a "
            "noisy one, the absolute figures move with whatever else runs.", ""]
