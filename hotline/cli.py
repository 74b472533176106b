"""The `hotline` command: run the service, check the content, call the line from a terminal.

What only some commands need (Flask, the Twilio and Redis clients, the services) is imported in
those commands: `hotline audio build`, which an operator runs after each change, starts without
loading a web server."""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import click

from hotline import settings as hotline_settings
from hotline.audio.cli import audio
from hotline.audio.library import AudioLibrary
from hotline.content.cli import content as content_commands
from hotline.content.ivr import Content, ContentError, load_content
from hotline.content.lexicon import FILLER
from hotline.content.reviews import TextReview
from hotline.content.segments import cost
from hotline.content.sms import SmsContent, load_sms_content
from hotline.content.sms_eval import EVAL_FILES, evaluate, rate_table, read_cases
from hotline.state.privacy import local_secret, redact

if TYPE_CHECKING:
    from hotline.services import Services
    from hotline.twilio.simulator import Line, PhoneCall, Texter

SANDBOX_ACCOUNT = "AC" + "0" * 32


@click.group()
def main() -> None:
    """hotline: the SMS and voice information line."""


main.add_command(audio)
main.add_command(content_commands)


def dev_auth_token(var_dir: Path) -> str:
    """A local stand-in for TWILIO_AUTH_TOKEN, in var/ (mode 0600), so the simulator can sign."""
    return local_secret(var_dir / "dev-twilio-auth-token")


def _load_or_exit(root: Path) -> None:
    try:
        load_content(root)
    except ContentError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=int, default=lambda: int(os.environ.get("PORT", "5000")),
              show_default="PORT or 5000")
@click.option("--web-workers", type=int, default=2, show_default=True)
def run(host: str, port: int, web_workers: int) -> None:
    """Start Redis (unless REDIS_URL is set), the web service and an RQ worker, and keep them
    running (each is started again if it dies); Ctrl-C or SIGTERM stops all. One per data
    directory (exit code 2 when another holds it)."""
    from hotline.state.store import EmbeddedRedis
    from hotline.supervisor import AlreadyRunning, Child, Supervisor, lock_data_dir
    from hotline.twilio.sandbox import TwilioSandbox

    settings = hotline_settings.from_environment_or_exit()
    var_dir: Path = settings.var_dir
    try:
        lock = lock_data_dir(var_dir)  # held until this process ends
    except AlreadyRunning as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)
    _load_or_exit(settings.content_root)
    from hotline.audio.build import ensure_audio

    ensure_audio(settings.content_root, settings.audio_root, echo=click.echo,
                 times=settings.opening_times())
    env = dict(os.environ)
    embedded = None
    bin_dir = Path(sys.executable).parent
    supervisor = Supervisor([], "", click.echo)
    supervisor.install_signal_handlers()
    sandbox = None
    code = 0
    try:
        if not env.get("REDIS_URL"):
            embedded = EmbeddedRedis(var_dir / "redis",
                                     port=int(env.get("REDIS_PORT", "0")) or None)
            env["REDIS_URL"] = embedded.start()
            click.echo(f"Redis: embedded server {embedded.url} (data in {embedded.data_dir})")
        if not env.get("TWILIO_AUTH_TOKEN") and env.get("HOTLINE_INSECURE_DEV") != "1":
            env["TWILIO_AUTH_TOKEN"] = dev_auth_token(var_dir)
            click.echo("Twilio: no TWILIO_AUTH_TOKEN, using a local development token from var/ "
                       "(signatures are still checked; the simulator signs with it)")
        if not env.get("TWILIO_ACCOUNT_SID"):
            sandbox = TwilioSandbox(SANDBOX_ACCOUNT, env.get("TWILIO_AUTH_TOKEN", ""),
                                    on_create=_show_sandbox_send)
            env.update(TWILIO_ACCOUNT_SID=SANDBOX_ACCOUNT, TWILIO_API_BASE_URL=sandbox.start(),
                       TWILIO_PHONE_NUMBER=env.get("TWILIO_PHONE_NUMBER") or "+3200000000")
            click.echo(f"Twilio: no TWILIO_ACCOUNT_SID, outgoing SMS and calls go to a local "
                       f"sandbox ({sandbox.base_url}) and are printed here; nothing leaves this "
                       f"machine")
        # prometheus_client adds up the web workers' webhook timings from files here (emptied at
        # each start: the counters of processes that are gone must not be counted).
        metrics_dir = var_dir / "prometheus"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        env.setdefault("PROMETHEUS_MULTIPROC_DIR", str(metrics_dir))
        supervisor.children = [
            Child("web", [str(bin_dir / "gunicorn"), "--bind", f"{host}:{port}", "--workers",
                          str(web_workers), "--access-logfile", "-", "hotline.wsgi:app"], env),
            Child("worker", [str(bin_dir / "hotline"), "worker"], env),
        ]
        supervisor.redis_url, supervisor.embedded = env["REDIS_URL"], embedded
        if supervisor.stop_signal is None:
            supervisor.start()
            _show_running(host, port, env["REDIS_URL"])
        code = supervisor.run()
    finally:
        supervisor.stop()
        if embedded:
            embedded.stop()
        if sandbox:
            sandbox.stop()
        os.close(lock)
    sys.exit(code)


def _show_running(host: str, port: int, redis_url: str) -> None:
    shown = "localhost" if host in ("127.0.0.1", "0.0.0.0") else host
    click.echo(f"\nhotline is running on http://{shown}:{port}/  (Ctrl-C stops everything)")
    click.echo(f"Call the line from another terminal:  .venv/bin/hotline call --url "
               f"http://{shown}:{port}")
    click.echo(f"Text it:                              .venv/bin/hotline sms --url "
               f"http://{shown}:{port}")
    click.echo(f"Mediators' console:                   http://{shown}:{port}/console/  (add an "
               f"account: REDIS_URL={redis_url} .venv/bin/hotline mediators add …)\n")


def _show_sandbox_send(kind: str, resource: dict[str, object]) -> None:
    what = "SMS" if kind == "Messages" else "call"
    text = f": {resource.get('body')}" if kind == "Messages" else ""
    click.echo(f"\N{ENVELOPE} [sandbox] {what} to {redact(str(resource['to']))}{text}")


@main.command("settings")
def settings_command() -> None:
    """Print every setting (environment variable, default, meaning) as a Markdown table."""
    click.echo(hotline_settings.table())


@main.command()
def check() -> None:
    """Validate the content files; print problems, warnings and a coverage table."""
    settings = hotline_settings.from_environment_or_exit()
    try:
        content = load_content(settings.content_root)
        sms = load_sms_content(content)
    except ContentError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    for warning in (*content.warnings, *sms.warnings):
        click.echo(f"warning: {warning}")
    required = sorted(content.required_prompts())
    click.echo(f"content OK: {len(content.nodes)} nodes, {len(required)} prompts, "
               f"{len(content.languages)} languages\n")
    _print_reviews(content, sms, required)
    ready = _print_voice_ready(content, AudioLibrary(settings.audio_root),
                               settings.hours().opening_times())
    _print_sms_costs(sms)
    _print_lexicon(sms)
    _print_sms_eval(sms, settings.content_root)
    if not _print_caller_time(content, AudioLibrary(settings.audio_root), ready):
        sys.exit(1)


def _print_reviews(content: Content, sms: SmsContent, required: list[str]) -> None:
    """Per language, voice and SMS: texts reviewed, stale (changed since their review) and
    draft, from the review ledgers; then each prompt's mark per language."""
    from hotline.content.reviews import counts

    codes = list(content.languages)
    click.echo("review (from ivr_scripts/reviews/ and sms_templates/reviews/): texts reviewed, "
               "stale (changed since), draft")
    click.echo(f"{'language':<22}{'voice':>9}{'reviewed':>10}{'stale':>7}{'draft':>7}"
               f"{'sms':>7}{'reviewed':>10}{'stale':>7}{'draft':>7}  twilio <Say>")
    for code, lang in content.languages.items():
        voice = counts({k: lang.reviews[k] for k in required if k in lang.reviews})
        texts = counts(sms.languages[code].reviews)
        click.echo(f"{code + ' ' + lang.name:<22}{sum(voice.values()):>9}{voice['reviewed']:>10}"
                   f"{voice['stale']:>7}{voice['draft']:>7}{sum(texts.values()):>7}"
                   f"{texts['reviewed']:>10}{texts['stale']:>7}{texts['draft']:>7}  "
                   f"{lang.say_language or '(none: needs audio)'}")
    click.echo("\nvoice prompts (R reviewed, s stale, l language reviewed awaiting legal, "
               "d draft, - missing):")
    click.echo(f"{'prompt':<26}" + "".join(f"{c:>4}" for c in codes))
    for key in required:
        row = "".join(f"{_review_mark(content.languages[c].reviews.get(key)):>4}" for c in codes)
        click.echo(f"{key:<26}{row}")


def _review_mark(review: TextReview | None) -> str:
    if review is None:
        return "-"
    if review.state == "draft" and "language" in review.current:
        return "l"
    return {"reviewed": "R", "stale": "s"}.get(review.state, "d")


def _print_voice_ready(content: Content, audio: AudioLibrary,
                       times: tuple[str, ...]) -> tuple[str, ...]:
    """Which languages the voice line offers now (every prompt can be spoken), and which not."""
    from hotline.audio.status import voice_ready

    ready = voice_ready(content, audio, times)
    click.echo(f"\nvoice-ready (offered on the voice line): {', '.join(ready) or 'none'}")
    others = [code for code in content.languages if code not in ready]
    if others:
        click.echo(f"not voice-ready, SMS only until their audio exists (`hotline audio build`, "
                   f"recordings): {', '.join(others)}")
    return ready


def _print_caller_time(content: Content, audio: AudioLibrary, offered: tuple[str, ...]) -> bool:
    """The caller-time table (the language menu as the voice line offers it, a language that is
    not voice-ready measured as if it were); False when a language of ENFORCED is over budget."""
    from hotline.content.budget import ENFORCED, caller_times, table

    times = [caller_times(content, lang, lambda u: audio.seconds(u.lang, u.text), offered)
             for lang in content.languages]
    click.echo("\ncaller time: seconds heard before an information item starts, pressing as "
               "soon as the wanted option is spoken")
    for line in table(times):
        click.echo(line)
    over = [(t.lang, problem) for t in times for problem in t.over_budget()
            if t.lang in ENFORCED]
    for lang, problem in over:
        click.echo(f"{lang}: over budget: {problem}", err=True)
    return not over


def _print_lexicon(sms: SmsContent) -> None:
    """Entries of the SMS lexicon (keywords included) per topic and language."""
    codes = list(sms.languages)
    sizes = sms.lexicon.sizes
    click.echo("\nSMS lexicon: words and phrases understood per topic and language:")
    click.echo(f"{'topic':<26}" + "".join(f"{c:>6}" for c in codes))
    topics = dict.fromkeys(t for by_topic in sizes.values() for t in by_topic)
    for topic in sorted(topics, key=lambda t: (t == FILLER, t)):
        click.echo(f"{topic:<26}" + "".join(f"{sizes.get(c, {}).get(topic, 0):>6}" for c in codes))
    click.echo(f"{'total':<26}" + "".join(f"{sum(sizes.get(c, {}).values()):>6}" for c in codes))


def _print_sms_eval(sms: SmsContent, root: Path) -> None:
    """How many messages of the evaluation sets the line answers right, per language."""
    for name in EVAL_FILES:
        if (root / name).exists():
            outcomes = evaluate(sms, read_cases(root / name))
            click.echo(f"\nSMS understanding, {name}:\n  {rate_table(outcomes, sms.languages)}")


def _print_sms_costs(sms: SmsContent) -> None:
    """Segments of every SMS per language: mean and worst, then each text."""
    texts = sms.all_texts()
    codes = [*sms.languages, "*"]
    click.echo("\nSMS cost in segments (budget: GSM-7 languages 2, others 3):")
    click.echo(f"{'sms':<26}" + "".join(f"{c:>6}" for c in codes))
    for name in dict.fromkeys(name for _, name in texts):
        row = "".join(f"{cost(texts[(c, name)]).segments if (c, name) in texts else '':>6}"
                      for c in codes)
        click.echo(f"{name:<26}{row}")
    for code, language in sms.languages.items():
        counts = [cost(t).segments for (c, _), t in texts.items() if c == code]
        click.echo(f"{code}: {language.alphabet}, mean {sum(counts) / len(counts):.2f}, "
                   f"worst {max(counts)}, status {language.status}")


@main.command()
@click.option("--url", help="A running service, e.g. http://localhost:5000 (default: in-process).")
@click.option("--keys", help="Keys to press at each prompt, separated by spaces ('0470123456#' "
              "types a number); '.' waits in silence; words at a recording are said.")
@click.option("--caller", help="The caller's number, as Twilio would send it "
              "(default: an example Belgian mobile number; 'anonymous' to withhold it).")
def call(url: str | None, keys: str | None, caller: str | None) -> None:
    """Call the line from this terminal and hear (read) what a caller hears."""
    from hotline.twilio.simulator import PhoneCall

    with _simulated_line(url) as (line, token):
        _call(PhoneCall(line, token, caller=caller), keys)


@contextlib.contextmanager
def _simulated_line(url: str | None) -> Iterator[tuple[Line, str]]:
    """The line to call or text: a running service at `url`, else the app in this process (with
    a throwaway Redis when REDIS_URL is not set); and the auth token to sign with."""
    from hotline.twilio.simulator import HttpLine, InProcessLine

    settings = hotline_settings.from_environment_or_exit()
    token = os.environ.get("TWILIO_AUTH_TOKEN") or dev_auth_token(settings.var_dir)
    if url:
        yield HttpLine(url), token
        return
    from hotline.app import create_app
    from hotline.state.store import EmbeddedRedis

    embedded = None
    redis_url = settings.redis_url
    if not redis_url:
        embedded = EmbeddedRedis(Path(tempfile.mkdtemp(prefix="hotline-simulator-")))
        redis_url = embedded.start()
    try:
        yield InProcessLine(create_app({"TWILIO_AUTH_TOKEN": token, "PUBLIC_BASE_URL": None,
                                        "REDIS_URL": redis_url})), token
    finally:
        if embedded:
            embedded.stop()


def _call(phone: PhoneCall, keys: str | None) -> None:
    from hotline.twilio.simulator import CallFailed, transcript

    scripted = shlex.split(keys) if keys is not None else None
    try:
        screen = phone.dial()
        while True:
            click.echo("\n".join(transcript(screen)))
            if screen.hung_up:
                return
            recording = screen.record_url is not None
            if scripted is not None:
                if not scripted:
                    click.echo("(you hang up)")
                    return
                key = scripted.pop(0)
                shown_key = key if key != "." else "(nothing)"
                says = recording and not set(key) <= set(screen.record_finish_keys + ".")
                click.echo(f"\N{TELEPHONE RECEIVER} you {'say' if says else 'press'}: {shown_key}")
            else:
                ask = ("\N{STUDIO MICROPHONE} say something, then # (Enter = silence)" if recording
                       else "\N{TELEPHONE RECEIVER} keys (Enter = silence, q = hang up)")
                key = click.prompt(ask, default="", show_default=False).strip()
                if key.lower() == "q":
                    return
            key = "" if key == "." else key
            if recording and key and not set(key) <= set(screen.record_finish_keys):
                # words spoken, about a second each, then the finish key
                finish = screen.record_finish_keys[:1] or None
                screen = phone.record(max(1, len(key.split())), finish)
            else:
                screen = phone.press(key or None)
    except CallFailed as exc:
        click.echo(f"call failed: {exc}", err=True)
        sys.exit(1)
    except (EOFError, click.Abort):
        click.echo("\n(you hang up)")


@main.command()
@click.argument("body", required=False)
@click.option("--url", help="A running service, e.g. http://localhost:5000 (default: in-process).")
@click.option("--number", help="The texter's number, as Twilio would send it "
              "(default: an example Belgian mobile number).")
def sms(body: str | None, url: str | None, number: str | None) -> None:
    """Text the line: one message (BODY), or a conversation when BODY is left out."""
    from hotline.twilio.simulator import Texter

    with _simulated_line(url) as (line, token):
        _text(Texter(line, token, number), body)


def _text(texter: Texter, body: str | None) -> None:
    from hotline.twilio.simulator import CallFailed

    try:
        messages = [body] if body is not None else None
        while True:
            if messages is not None:
                if not messages:
                    return
                text = messages.pop(0)
            else:
                text = click.prompt("\N{MOBILE PHONE} you send (Ctrl-D to stop)",
                                    default="", show_default=False)
            replies = texter.send(text)
            for reply in replies or ["(no reply)"]:
                click.echo("\N{ENVELOPE} " + reply.replace("\n", "\n   "))
    except CallFailed as exc:
        click.echo(f"sms failed: {exc}", err=True)
        sys.exit(1)
    except (EOFError, click.Abort):
        click.echo("")


@main.group()
def mediators() -> None:
    """Manage mediator accounts."""


def _services() -> Services:
    from hotline.services import build_services

    settings = hotline_settings.from_environment_or_exit()
    if not settings.redis_url:
        raise click.UsageError("set REDIS_URL to the service's Redis (`hotline run` prints it)")
    return build_services(settings)


@contextlib.contextmanager
def _refusals_as_usage_errors() -> Iterator[None]:
    """What the accounts refuse (MediatorError), said as a usage error."""
    from hotline.console.mediators import MediatorError

    try:
        yield
    except MediatorError as exc:
        raise click.UsageError(str(exc)) from exc


@mediators.command("add")
@click.option("--login", required=True)
@click.option("--name", required=True, help="Shown in the console.")
@click.option("--languages", required=True, help="Comma-separated codes, e.g. fr,ar.")
@click.option("--phone", required=True, help="The phone the hotline rings for their calls.")
@click.option("--role", type=click.Choice(["mediator", "editor", "admin"]), default="mediator",
              show_default=True, help="editor: reviews and records the content, takes no calls.")
@click.password_option(help="At least 10 characters (asked for when left out).")
def mediators_add(login: str, name: str, languages: str, phone: str, role: str,
                  password: str) -> None:
    """Create a mediator account."""
    found = _services()
    codes = [c.strip() for c in languages.split(",") if c.strip()]
    unknown = [c for c in codes if c not in found.content.languages]
    if unknown:
        raise click.UsageError(f"unknown language(s): {', '.join(unknown)}")
    with _refusals_as_usage_errors():
        mediator = found.mediators.add(login, name, codes, phone, password, role)
    click.echo(f"added {mediator.login} ({mediator.role}, {', '.join(mediator.languages)})")


@mediators.command("list")
def mediators_list() -> None:
    """List the accounts (phones stay hidden)."""
    for m in _services().mediators.all():
        state = "active" if m.active else "disabled"
        click.echo(f"{m.login:<16}{m.name:<24}{','.join(m.languages):<16}{m.role:<10}{state}")


@mediators.command("pin")
@click.argument("login")
@click.password_option("--pin", prompt="PIN (4 to 8 digits)",
                       help="Opens recording by phone (asked for when left out).")
def mediators_pin(login: str, pin: str) -> None:
    """Set the PIN an editor or admin types to record prompts by phone."""
    with _refusals_as_usage_errors():
        _services().mediators.set_pin(login, pin)
    click.echo(f"PIN set for {login}")


@mediators.command("disable")
@click.argument("login")
def mediators_disable(login: str) -> None:
    """Disable an account: no more logins, tickets or alerts."""
    with _refusals_as_usage_errors():
        _services().mediators.disable(login)
    click.echo(f"disabled {login}")


@main.command()
def schedule() -> None:
    """Run the maintenance (spool replay, claim expiry, wait alerts) once now; `hotline worker`
    keeps it running every minute by itself. Safe to repeat."""
    from workers.clock import tick

    tick(_services(), force=True)
    click.echo("maintenance queued (every `hotline worker` keeps it running every minute)")


@main.group()
def spool() -> None:
    """The callback requests (and STOP, START, FORGET) kept on disk while Redis was unreachable."""


@spool.command("replay")
def spool_replay() -> None:
    """Move the spooled callback requests into the queue and apply the spooled STOP, START and
    FORGET (each exactly once)."""
    from hotline.callbacks.requests import replay_spool

    click.echo(f"{replay_spool(_services())} request(s) moved into the queue")


@main.command("export-static")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--base-url", required=True,
              help="Where the files will be served, e.g. https://static.example.org/hotline")
def export_static(directory: Path, base_url: str) -> None:
    """Write the voice menu as static TwiML files plus audio, for Twilio's fallback URL."""
    from hotline.twilio.static_export import export

    settings = hotline_settings.from_environment_or_exit()
    try:
        content = load_content(settings.content_root)
    except ContentError as exc:
        raise click.ClickException(str(exc)) from exc
    count = export(content, AudioLibrary(settings.audio_root), directory, base_url)
    click.echo(f"{count} files in {directory}. Serve them with the rule in "
               f"{directory / 'nginx.conf'}, and set the number's fallback URL to "
               f"{base_url.rstrip('/')}/voice.xml (method GET).")


@main.command()
@click.option("--burst", is_flag=True, help="Work until the queue is empty, then stop.")
def worker(burst: bool) -> None:
    """An RQ worker (with its scheduler) for the `hotline` queue, the content loaded once, which
    keeps the minute-by-minute maintenance going (see workers/clock.py).

    Like `rq worker --with-scheduler hotline`, but the services are built and the Twilio REST
    resources imported before the worker forks a process per job, so each job starts warm
    instead of importing and loading again."""
    import redis

    from hotline.services import job_queue
    from hotline.twilio import rest
    from workers import jobs
    from workers.clock import MaintainingWorker

    found = jobs.services()
    rest.warm_up()
    delay = 1.0
    while True:  # started during a Redis outage: wait for it rather than fail
        try:
            found.rq.ping()
            break
        except redis.ConnectionError:
            click.echo(f"Redis unreachable; trying again in {delay:.0f} s", err=True)
            time.sleep(delay)
            delay = min(delay * 2, 30.0)
    MaintainingWorker([job_queue(found.rq)], connection=found.rq, services=found).work(
        with_scheduler=True, burst=burst)
