"""The phone simulator drives calls in-process and over HTTP, signing as Twilio does."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner

from hotline.cli import main
from hotline.twilio.simulator import CallFailed, InProcessLine, PhoneCall, transcript
from tests.helpers import TOKEN


def test_simulator_walks_to_an_item_in_each_language(redis_server, redis_db):
    from hotline.app import create_app

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
    from hotline.app import create_app

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
    from hotline.app import create_app

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


class RecordingLine(InProcessLine):
    """The app in this process, keeping (path, form fields) of every request Twilio would make."""

    def __init__(self, app):
        super().__init__(app)
        self.posts: list[tuple[str, dict[str, str]]] = []

    def post(self, url, params, signature):
        self.posts.append((urlsplit(url).path + "?" + urlsplit(url).query, dict(params)))
        return super().post(url, params, signature)


@pytest.fixture
def line(redis_server, redis_db):
    from hotline.app import create_app

    return RecordingLine(create_app({"TWILIO_AUTH_TOKEN": TOKEN, "REDIS_URL": redis_server.url}))


def _at_the_number_prompt(line) -> PhoneCall:
    """A caller with a withheld number, at the callback request's "type your number" prompt."""
    phone = PhoneCall(line, TOKEN, caller="anonymous")
    phone.dial()
    phone.press("3")  # English
    phone.press("0")  # a person: a callback request
    assert phone.screen.finish_on_key == "#" and phone.screen.num_digits is None
    line.posts.clear()
    return phone


def test_a_typed_number_is_one_digits_value_without_the_finish_key(line):
    phone = _at_the_number_prompt(line)
    screen = phone.press("0470123456#")
    assert [p.get("Digits") for _, p in line.posts] == ["0470123456"]
    assert "0 4 7 0, 1 2, 3 4, 5 6" in " ".join(h.text for h in screen.heard)


def test_the_finish_key_alone_is_silence(line):
    phone = _at_the_number_prompt(line)
    timeout_url = phone.screen.timeout_url
    phone.press("#")
    [(path, params)] = line.posts
    assert "Digits" not in params  # Twilio does not ask the action; it goes on after <Gather>
    assert "http://localhost" + path == timeout_url


def test_num_digits_ends_the_input_and_later_keys_reach_the_next_prompt(line):
    phone = PhoneCall(line, TOKEN)
    phone.dial()
    assert phone.screen.num_digits == 1 and phone.screen.finish_on_key == ""
    phone.press("33")  # English, then 3 in the main menu
    assert [p.get("Digits") for _, p in line.posts[1:]] == ["3", "3"]


def test_record_posts_the_recording_then_its_status_callback(line):
    services = line.client.application.extensions["hotline"]
    phone = PhoneCall(line, TOKEN, caller="+32470123456")
    phone.dial()
    for key in "3", "0", "1", "4":  # English, a person, my number, the topic: health
        phone.press(key)
    assert phone.screen.record_url and phone.screen.heard[-1].text == "(beep)"
    line.posts.clear()
    screen = phone.record(8, "#")
    (action, answer), (callback, status) = line.posts
    assert action.startswith("/voice/step?")
    assert answer["Digits"] == "#" and answer["RecordingDuration"] == "8"
    assert answer["RecordingUrl"].endswith("/Recordings/" + answer["RecordingSid"])
    assert callback.startswith("/voice/recording?ref=") and status["RecordingStatus"] == "completed"
    ref = parse_qs(urlsplit(callback).query)["ref"][0]
    assert services.callbacks.get(ref).voice == answer["RecordingUrl"]
    assert " ".join(ref[:3]) in screen.heard[0].text  # the reference, after the message


def test_nothing_said_at_the_beep_goes_on_without_a_recording(line):
    services = line.client.application.extensions["hotline"]
    phone = PhoneCall(line, TOKEN, caller="+32470123456")
    phone.dial()
    for key in "3", "0", "1", "4":
        phone.press(key)
    line.posts.clear()
    phone.press(None)
    [(path, params)] = line.posts
    assert "RecordingUrl" not in params and "Digits" not in params
    ref = parse_qs(urlsplit(path).query)["ref"][0]
    assert not services.callbacks.get(ref).voice


def test_call_command_types_a_number_and_leaves_a_message(tmp_path):
    result = CliRunner().invoke(
        main, ["call", "--caller", "anonymous", "--keys", "3 0 0470123456# 1 4 'please call'"],
        env={"HOTLINE_VAR_DIR": str(tmp_path), "TWILIO_AUTH_TOKEN": ""},
    )
    assert result.exit_code == 0, result.output
    assert "0 4 7 0, 1 2, 3 4, 5 6" in result.output
    assert "you say: please call" in result.output
    assert result.output.rstrip().endswith("(you hang up)")
