"""`make bench`: run every measurement of issue 7 and write bench/RESULTS.md.

    .venv/bin/python -m bench.run [options]      # --help lists them (or BENCH_* variables)

In order: SMS cost; the audio build (full, then no-op) into a cache of the bench's own; caller
time from those files; the callback queue on a Redis of its own; then `hotline run` (plus the
baseline gunicorn) for the webhooks, their profile, the load and the RQ drain, and memory; then
everything is stopped and the results are written.

Loopback only; every process it starts is stopped, by id, before it exits, also on failure or
Ctrl-C. Exit status 1 when a phase failed (the results say which), else 0: a missed target is a
finding, not a failure.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, cast

from bench import (
    audio_timing,
    callback_queue,
    capacity,
    costs,
    load,
    machine,
    profiling,
    report,
    webhooks,
)
from bench.stack import PROJECT_ROOT, Stack, cmdline
from hotline.audio.library import AudioLibrary
from hotline.content.budget import LanguageTime, caller_times
from hotline.content.ivr import load_content
from hotline.content.sms import load_sms_content


@dataclass
class Settings:
    """What `python -m bench.run --help` lists: an option each, or a BENCH_<NAME> variable."""

    load_seconds: float = 60.0
    callers: int = 200
    texters: int = 20
    connections: int = 32
    slice_seconds: float = 1.5
    rounds: int = 5
    warmup_seconds: float = 0.5
    drain_seconds: float = 45.0
    tickets: int = 10_000
    takers: int = 16
    capacity_seconds: float = 4.0
    output: Path = PROJECT_ROOT / "bench" / "RESULTS.md"
    keep: bool = False

    @classmethod
    def parse(cls, argv: list[str] | None = None) -> Settings:
        """Settings from the command line; an option's default is its BENCH_<NAME> variable
        when that is set (BENCH_KEEP=1 for --keep), else the field's default."""
        parser = argparse.ArgumentParser(
            prog="python -m bench.run", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
            description="Measure the hotline (make bench) and write bench/RESULTS.md.")
        for f in fields(cls):
            variable = f"BENCH_{f.name.upper()}"
            given = os.environ.get(variable)
            option, text = "--" + f.name.replace("_", "-"), f"{HELP[f.name]} [{variable}]"
            if isinstance(f.default, bool):
                parser.add_argument(option, action="store_true", help=text,
                                    default=f.default if given is None else given == "1")
            else:
                kind = cast(Callable[[str], Any], type(f.default))  # float, int or Path
                parser.add_argument(option, type=kind, help=text,
                                    default=f.default if given is None else kind(given))
        return cls(**vars(parser.parse_args(argv)))


HELP = {
    "load_seconds": "length of the load",
    "callers": "simulated callers during the load",
    "texters": "simulated texters during the load",
    "connections": "concurrent connections for the webhook figures",
    "slice_seconds": "one timed slice (hotline or baseline) of one webhook case",
    "rounds": "slices of each side per case, alternating",
    "warmup_seconds": "untimed warm-up of each side of each case",
    "drain_seconds": "how long to wait for the RQ queue to drain after the load",
    "tickets": "callback tickets waiting",
    "takers": "mediators taking them at once",
    "capacity_seconds": "saturated seconds per web-process count (1, 2, 4) for the capacity",
    "output": "where to write the results",
    "keep": "keep the work folder (logs, Redis data) instead of deleting it",
}


@dataclass
class Results:
    """Everything measured, for the report; a phase that failed leaves its error instead."""

    settings: Settings
    machine: dict[str, str] = field(default_factory=dict)
    commands: dict[str, str] = field(default_factory=dict)
    stack_env: dict[str, str] = field(default_factory=dict)
    phases: dict[str, float] = field(default_factory=dict)  # seconds each phase took
    errors: dict[str, str] = field(default_factory=dict)
    sms: Any = None
    audio: audio_timing.AudioTimings | None = None
    caller: list[LanguageTime] = field(default_factory=list)
    remembered: tuple[bool, str] | None = None
    queue: callback_queue.QueueResult | None = None
    webhooks: list[webhooks.Comparison] = field(default_factory=list)
    webhook_cpu: dict[str, float] = field(default_factory=dict)
    capacity: list[capacity.CapacityRun] = field(default_factory=list)
    profiles: list[profiling.CaseProfile] = field(default_factory=list)
    job_profile: profiling.JobProfile | None = None
    load: load.LoadResult | None = None
    load_cpu: dict[str, float] = field(default_factory=dict)
    memory: dict[str, float | None] = field(default_factory=dict)
    killed: list[int] = field(default_factory=list)
    load_average_end: str = ""


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def phase(results: Results, name: str, work: Callable[[], None]) -> bool:
    """Run one phase, timing it; a failure is recorded and the next phases still run."""
    say(name)
    started = time.perf_counter()
    try:
        work()
        return True
    except Exception as exc:
        results.errors[name] = f"{type(exc).__name__}: {exc}"
        say(f"  FAILED: {results.errors[name]}")
        traceback.print_exc()
        return False
    finally:
        results.phases[name] = time.perf_counter() - started


def main() -> int:
    settings = Settings.parse()
    results = Results(settings)
    results.machine = machine.describe()
    workdir = Path(tempfile.mkdtemp(prefix="hotline-bench-"))
    audio_root = workdir / "audio"
    content = load_content(PROJECT_ROOT)
    sms = load_sms_content(content)
    token = secrets.token_hex(16)
    say(f"hotline bench: work folder {workdir}")

    def sms_costs() -> None:
        results.sms = costs.sms_table(sms)

    def audio() -> None:
        results.audio = audio_timing.run(audio_root)
        if results.audio.builds:
            results.commands["audio build (full, then again: no-op)"] = \
                results.audio.builds[0].command
        for build in results.audio.builds:
            say(f"  {build.label}: {build.wall_seconds:.1f} s ({build.summary})")

    def caller_time() -> None:
        library = AudioLibrary(audio_root)
        results.caller = [caller_times(content, lang, lambda u: library.seconds(u.lang, u.text))
                          for lang in content.languages]

    def queue() -> None:
        results.queue = callback_queue.run(workdir, settings.tickets, settings.takers)
        results.commands["callback queue"] = ("a private redis-server started by "
                                              "hotline.state.store.EmbeddedRedis, then "
                                              "bench/callback_queue.py in this process")

    phase(results, "SMS cost", sms_costs)
    phase(results, "audio build", audio)
    phase(results, "caller time", caller_time)
    phase(results, "callback queue", queue)

    stack = Stack(workdir / "stack", audio_root, token)
    try:
        if phase(results, "start the stack", stack.start):
            _with_stack(results, stack, content, token)
    except KeyboardInterrupt:
        results.errors["interrupted"] = "Ctrl-C"
    finally:
        say("stopping the stack")
        results.killed = stack.stop()
        results.load_average_end = machine.load_average()
    results.commands["make bench"] = ".venv/bin/python -m bench.run"
    settings.output.write_text(report.render(results), encoding="utf-8")
    say(f"wrote {settings.output}")
    if results.killed:
        say(f"had to kill processes {results.killed}")
    if settings.keep or results.errors:
        say(f"work folder kept: {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if results.errors else 0


def _with_stack(results: Results, stack: Stack, content: Any, token: str) -> None:
    settings = results.settings
    master = stack.gunicorn_master()
    worker = stack.rq_worker()
    results.commands.update({
        "stack": f"hotline run --host 127.0.0.1 --port {stack.port}",
        "web (started by `hotline run`)": " ".join(cmdline(master)) if master else "?",
        "worker (started by `hotline run`)": " ".join(cmdline(worker)) if worker else "?",
        "baseline (same gunicorn settings)": " ".join(cmdline(stack.bare.pid))
        if stack.bare else "?",
    })
    env = stack.env()
    results.stack_env = {k: env[k] for k in (
        "TWILIO_AUTH_TOKEN", "HOTLINE_VAR_DIR", "HOTLINE_AUDIO_ROOT", "REDIS_PORT", "PORT",
        "HOTLINE_SMS_DAILY_CAP")}
    results.stack_env["TWILIO_AUTH_TOKEN"] = "<random per run>"

    def remembered() -> None:
        results.remembered = webhooks.remembers_language(content, token, stack.port)

    def webhook_figures() -> None:
        before = stack.cpu()
        results.webhooks = webhooks.run(content, token, stack.port, stack.bare_port,
                                        settings.connections, settings.slice_seconds,
                                        settings.rounds, settings.warmup_seconds,
                                        cpu=stack.server_cpu())
        results.webhook_cpu = machine.cpu_share(before, stack.cpu())

    def capacity_figures() -> None:
        runs, commands = capacity.run(stack, content, token, settings.connections,
                                      settings.capacity_seconds, progress=say)
        results.capacity = runs
        for run, command in zip(runs, commands, strict=True):
            results.commands[f"capacity, {run.processes} web process(es)"] = command

    def profile() -> None:
        from hotline import settings as hotline_settings

        app_settings = hotline_settings.from_environment(
            {**stack.env(), "REDIS_URL": stack.redis_url})
        results.profiles = profiling.webhooks(content, app_settings, token, stack.port,
                                              list(webhooks.CASES))
        job_env = {**stack.env(), "REDIS_URL": stack.redis_url,
                   "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
                   "TWILIO_PHONE_NUMBER": "+3200000000",
                   "TWILIO_API_BASE_URL": stack.sandbox_url()}
        results.job_profile = profiling.rq_job(job_env)

    def load_run() -> None:
        before = stack.cpu()
        results.load = load.run(content, token, stack.port, stack.redis_url, settings.callers,
                                settings.texters, settings.load_seconds)
        results.load_cpu = machine.cpu_share(before, stack.cpu())
        load.drain(results.load, stack.redis_url, stack.sandbox_sms_count,
                   settings.drain_seconds, progress=say)
        results.memory = stack.memory()

    phase(results, "remembered language", remembered)
    phase(results, "webhooks", webhook_figures)
    phase(results, "capacity", capacity_figures)
    phase(results, "profile", profile)
    phase(results, "load", load_run)


if __name__ == "__main__":
    sys.exit(main())
