"""The `hotline` command: run the service, check the content, call the line from a terminal."""

from __future__ import annotations

import os
import secrets
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import click

from hotline import config
from hotline.content import ContentError, load_content
from hotline.store import EmbeddedRedis


@click.group()
def main() -> None:
    """hotline: the SMS and voice information line."""


def dev_auth_token(var_dir: Path) -> str:
    """A local stand-in for TWILIO_AUTH_TOKEN, in var/ (mode 0600), so the simulator can sign."""
    path = var_dir / "dev-twilio-auth-token"
    if not path.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(16))
    return path.read_text().strip()


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
    """Start Redis (unless REDIS_URL is set), the web service and an RQ worker; Ctrl-C stops all."""
    settings = config.from_environment()
    _load_or_exit(settings["CONTENT_ROOT"])
    var_dir: Path = settings["VAR_DIR"]
    env = dict(os.environ)
    embedded = None
    if not env.get("REDIS_URL"):
        embedded = EmbeddedRedis(var_dir / "redis", port=int(env.get("REDIS_PORT", "0")) or None)
        env["REDIS_URL"] = embedded.start()
        click.echo(f"Redis: embedded server {embedded.url} (data in {embedded.data_dir})")
    if not env.get("TWILIO_AUTH_TOKEN") and env.get("HOTLINE_INSECURE_DEV") != "1":
        env["TWILIO_AUTH_TOKEN"] = dev_auth_token(var_dir)
        click.echo("Twilio: no TWILIO_AUTH_TOKEN, using a local development token from var/ "
                   "(signatures are still checked; the simulator signs with it)")
    bin_dir = Path(sys.executable).parent
    commands = {
        "web": [str(bin_dir / "gunicorn"), "--bind", f"{host}:{port}", "--workers",
                str(web_workers), "--access-logfile", "-", "hotline.wsgi:app"],
        "worker": [str(bin_dir / "rq"), "worker", "--url", env["REDIS_URL"], "--with-scheduler",
                   "hotline"],
    }
    processes = {name: subprocess.Popen(cmd, env=env) for name, cmd in commands.items()}
    shown = "localhost" if host in ("127.0.0.1", "0.0.0.0") else host
    click.echo(f"\nhotline is running on http://{shown}:{port}/  (Ctrl-C stops everything)")
    click.echo(f"Call the line from another terminal:  .venv/bin/hotline call --url "
               f"http://{shown}:{port}\n")
    code = 0
    try:
        while code == 0:
            for name, proc in processes.items():
                if proc.poll() is not None:
                    click.echo(f"{name} stopped with exit code {proc.returncode}", err=True)
                    code = proc.returncode or 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        click.echo("\nstopping…")
    finally:
        for proc in processes.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in processes.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        if embedded:
            embedded.stop()
    sys.exit(code)


@main.command()
def check() -> None:
    """Validate the content files; print problems, warnings and a coverage table."""
    root = config.from_environment()["CONTENT_ROOT"]
    try:
        content = load_content(root)
    except ContentError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    for warning in content.warnings:
        click.echo(f"warning: {warning}")
    required = sorted(content.required_prompts())
    click.echo(f"content OK: {len(content.nodes)} nodes, {len(required)} prompts, "
               f"{len(content.languages)} languages\n")
    codes = list(content.languages)
    click.echo(f"{'language':<22}{'status':<10}{'prompts':>9}{'reviewed':>10}  twilio <Say>")
    for code, lang in content.languages.items():
        reviewed = sum(1 for k in required if lang.prompt_status.get(k) == "reviewed")
        present = sum(1 for k in required if k in lang.prompts)
        click.echo(f"{code + ' ' + lang.name:<22}{lang.status:<10}{present:>5}/{len(required):<3}"
                   f"{reviewed:>10}  {lang.say_language or '(none: needs audio)'}")
    click.echo("\ncoverage (R reviewed, d draft, - missing):")
    click.echo(f"{'prompt':<26}" + "".join(f"{c:>4}" for c in codes))
    marks = {"reviewed": "R", "draft": "d"}
    for key in required:
        row = "".join(
            f"{marks.get(content.languages[c].prompt_status.get(key, ''), '-'):>4}" for c in codes
        )
        click.echo(f"{key:<26}{row}")


@main.command()
@click.option("--url", help="A running service, e.g. http://localhost:5000 (default: in-process).")
@click.option("--keys", help="Keys to press, separated by spaces; '.' waits in silence.")
@click.option("--caller", default="+32000000000", show_default=True,
              help="The caller's number, as Twilio would send it.")
def call(url: str | None, keys: str | None, caller: str) -> None:
    """Call the line from this terminal and hear (read) what a caller hears."""
    from hotline.simulator import CallFailed, HttpLine, InProcessLine, PhoneCall, transcript

    settings = config.from_environment()
    token = os.environ.get("TWILIO_AUTH_TOKEN") or dev_auth_token(settings["VAR_DIR"])
    if url:
        line = HttpLine(url)
    else:
        from hotline import create_app

        line = InProcessLine(create_app({"TWILIO_AUTH_TOKEN": token, "PUBLIC_BASE_URL": None}))
    phone = PhoneCall(line, token, caller=caller)
    scripted = shlex.split(keys) if keys is not None else None
    try:
        screen = phone.dial()
        while True:
            click.echo("\n".join(transcript(screen)))
            if screen.hung_up:
                return
            if scripted is not None:
                if not scripted:
                    click.echo("(you hang up)")
                    return
                key = scripted.pop(0)
                shown_key = key if key != "." else "(nothing)"
                click.echo(f"\N{TELEPHONE RECEIVER} you press: {shown_key}")
            else:
                key = click.prompt("\N{TELEPHONE RECEIVER} keys (Enter = silence, q = hang up)",
                                   default="", show_default=False).strip()
                if key.lower() == "q":
                    return
            for digit in (key if key not in ("", ".") else [None]):
                screen = phone.press(digit)
                if len(key) > 1 and not screen.hung_up:
                    continue
    except CallFailed as exc:
        click.echo(f"call failed: {exc}", err=True)
        sys.exit(1)
    except (EOFError, click.Abort):
        click.echo("\n(you hang up)")
