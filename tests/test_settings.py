"""Settings: typed, defaults documented once, a bad value stops start-up naming the variable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from hotline.app import create_app
from hotline.cli import main
from hotline.settings import VARIABLES, Settings, SettingsError, from_environment

ROOT = Path(__file__).resolve().parent.parent


def test_defaults_are_typed():
    settings = from_environment({})
    assert isinstance(settings, Settings)
    assert settings.claim_seconds == 20 * 60 and settings.max_attempts == 3
    assert settings.content_root == ROOT and settings.audio_root == ROOT / "audio_cache"
    assert settings.countries == frozenset({"BE"}) and settings.insecure_dev is False
    assert settings.redis_url is None and settings.retry_base_seconds == 10.0


def test_values_are_read_into_their_types(tmp_path):
    settings = from_environment({
        "HOTLINE_CLAIM_MINUTES": "5", "HOTLINE_COUNTRIES": "be, nl", "HOTLINE_INSECURE_DEV": "1",
        "HOTLINE_CONTENT_ROOT": str(tmp_path), "HOTLINE_RETRY_BASE_SECONDS": "0.5"})
    assert settings.claim_seconds == 300 and settings.countries == frozenset({"BE", "NL"})
    assert settings.insecure_dev is True and settings.retry_base_seconds == 0.5
    assert settings.audio_root == tmp_path / "audio_cache"


def test_missed_call_numbers_are_read_as_e164():
    settings = from_environment({"HOTLINE_MISSED_CALL_NUMBERS": "+32 2 555 00 01, +3225550002",
                                 "HOTLINE_MISSED_CALL_REPLY": "sms"})
    assert settings.missed_call_numbers == frozenset({"+3225550001", "+3225550002"})
    assert settings.missed_call_reply == "sms"
    assert from_environment({}).missed_call_numbers == frozenset()


@pytest.mark.parametrize(("variable", "value"), [
    ("HOTLINE_CLAIM_MINUTES", "abc"),
    ("HOTLINE_MAX_ATTEMPTS", "-1"),
    ("HOTLINE_SMS_DAILY_CAP", "1e3"),
    ("HOTLINE_RETRY_BASE_SECONDS", "soon"),
    ("HOTLINE_OPENING_HOURS", "mon-fri 09:00-17:00; xyz 10:00-12:00"),
    ("HOTLINE_OPENING_HOURS", "mon 17:00-09:00"),
    ("HOTLINE_TIMEZONE", "Europe/Bruxelles"),
    ("HOTLINE_COUNTRIES", "Belgium"),
    ("HOTLINE_INSECURE_DEV", "yes"),
    ("HOTLINE_MISSED_CALL_NUMBERS", "02 555 00 01"),
    ("HOTLINE_MISSED_CALL_NUMBERS", "+32, +3225550001"),
    ("HOTLINE_MISSED_CALL_REPLY", "voice"),
    ("HOTLINE_MISSED_CALLBACKS_PER_DAY", "three"),
])
def test_a_bad_value_names_its_variable(variable, value):
    with pytest.raises(SettingsError, match=variable):
        from_environment({variable: value})


def test_the_cli_stops_with_one_line_naming_the_variable():
    result = CliRunner().invoke(main, ["check"], env={"HOTLINE_CLAIM_MINUTES": "abc"})
    assert result.exit_code == 2
    assert "HOTLINE_CLAIM_MINUTES='abc'" in result.output and "Traceback" not in result.output


def test_the_web_entry_point_refuses_to_start():
    env = {"PATH": "", "HOTLINE_OPENING_HOURS": "someday", "TWILIO_AUTH_TOKEN": "x"}
    done = subprocess.run([sys.executable, "-c", "import hotline.wsgi"], env=env,
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 2
    assert "HOTLINE_OPENING_HOURS='someday'" in done.stderr and "Traceback" not in done.stderr


def test_overrides_by_field_name_read_text_like_the_environment(app):
    services = app.extensions["hotline"]
    assert services.settings.secret_key and services.settings.retry_base_seconds == 0
    other = create_app({"TWILIO_AUTH_TOKEN": "x", "OPENING_HOURS": "sat 10:00-12:00",
                        "CLAIM_SECONDS": 60})
    assert other.extensions["hotline"].settings.opening_hours == "sat 10:00-12:00"
    assert other.extensions["hotline"].settings.claim_seconds == 60


def test_the_readme_holds_the_settings_table():
    result = CliRunner().invoke(main, ["settings"])
    assert result.exit_code == 0
    assert all(f"`{v.env}`" in result.output for v in VARIABLES)
    assert result.output.strip() in (ROOT / "README.md").read_text(), (
        "README's settings table is out of date: paste `hotline settings` into it")
