"""The phone simulator drives calls in-process and over HTTP, signing as Twilio does."""

from __future__ import annotations

from click.testing import CliRunner

from hotline.cli import main
from hotline.twilio.simulator import CallFailed, InProcessLine, PhoneCall, transcript
from tests.helpers import TOKEN


def test_simulator_walks_to_an_item_in_each_language(redis_server, redis_db):
    from hotline import create_app

    app = create_app({"TWILIO_AUTH_TOKEN": TOKEN, "REDIS_URL": redis_server.url})
    content = app.extensions["hotline"].content
    for lang_digit, lang in {"1": "fr", "2": "nl", "3": "en", "4": "ar", "5": "uk"}.items():
        # a different caller each time: the line remembers a caller's language
        phone = PhoneCall(InProcessLine(app), TOKEN, caller=f"+3247012345{lang_digit}")
        screen = phone.dial()
        # without rendered audio, Dari and Tigrinya have no voice, Pashto none at all
        assert len(screen.heard) == 9
        assert screen.gather_url
        phone.press(lang_digit)
        phone.press("1")
        screen = phone.press("1")
        # what the voice reads: the text with the language's respellings (C P A S in French)
        assert screen.heard[0].text == content.speech(lang, content.text(lang, "info_cpas_what"))
        assert not screen.hung_up


def test_silence_follows_the_redirect_and_ends_with_goodbye(redis_server, redis_db):
    from hotline import create_app

    app = create_app({"TWILIO_AUTH_TOKEN": TOKEN, "REDIS_URL": redis_server.url})
    phone = PhoneCall(InProcessLine(app), TOKEN)
    phone.dial()
    phone.press("3")
    for _ in range(3):
        screen = phone.press(None)
    assert screen.hung_up
    assert "112" in screen.heard[-1].text
    assert transcript(screen)[-1] == "  (the line hangs up)"


def test_wrong_token_makes_the_call_fail(redis_server):
    from hotline import create_app

    app = create_app({"TWILIO_AUTH_TOKEN": TOKEN, "REDIS_URL": redis_server.url})
    phone = PhoneCall(InProcessLine(app), "not-the-token")
    try:
        phone.dial()
    except CallFailed as exc:
        assert "403" in str(exc)
    else:
        raise AssertionError("an unsigned call must be refused")


def test_call_command_scripted(tmp_path):
    result = CliRunner().invoke(
        main, ["call", "--keys", "3 3 2"],
        env={"HOTLINE_VAR_DIR": str(tmp_path), "TWILIO_AUTH_TOKEN": ""},
    )
    assert result.exit_code == 0, result.output
    assert "English: 3." in result.output
    assert "1 February 2025" in result.output
    assert result.output.rstrip().endswith("(you hang up)")
