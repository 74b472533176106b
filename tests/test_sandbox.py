"""The Twilio sandbox behaves as Twilio where the project depends on it (issue 14, item 14),
checked against an excerpt of Twilio's OpenAPI description (tests/data) and Twilio's error codes."""

from __future__ import annotations

import ast
import inspect
import json
import re

import pytest
import requests
from twilio.base.exceptions import TwilioRestException

from hotline.content.ivr import load_content
from hotline.content.segments import cost
from hotline.content.sms import load_sms_content
from hotline.twilio import sandbox as sandbox_module
from hotline.twilio.rest import place_call, send_message, twilio_client
from tests.helpers import ACCOUNT, HOTLINE_NUMBER, MOBILE, ROOT, TOKEN, run_jobs

SPEC = json.loads((ROOT / "tests/data/twilio_api_v2010_excerpt.json").read_text())
TWIML_URL = "https://hotline.example.org/voice/bridge?ref=1"


@pytest.fixture
def twilio(services):
    return twilio_client(services.settings)


def _refused(call) -> TwilioRestException:
    with pytest.raises(TwilioRestException) as caught:
        call()
    return caught.value


@pytest.mark.parametrize("to", ["0470123456", "+3247012345", "+32470123456789", "hello", "+1"])
def test_an_invalid_to_is_400_with_21211(twilio, sandbox, to):
    refused = _refused(lambda: send_message(twilio, HOTLINE_NUMBER, to, "hi"))
    assert (refused.status, refused.code) == (400, 21211)
    refused = _refused(lambda: place_call(twilio, HOTLINE_NUMBER, to, TWIML_URL, TWIML_URL))
    assert (refused.status, refused.code) == (400, 21211)
    assert sandbox.messages == [] and sandbox.calls == []


def test_a_body_over_1600_characters_is_21617(twilio, sandbox):
    assert send_message(twilio, HOTLINE_NUMBER, MOBILE, "é" * 1600)
    refused = _refused(lambda: send_message(twilio, HOTLINE_NUMBER, MOBILE, "a" * 1601))
    assert (refused.status, refused.code) == (400, 21617)
    assert len(sandbox.messages) == 1


def test_a_relative_url_is_refused(twilio, sandbox):
    refused = _refused(lambda: place_call(twilio, HOTLINE_NUMBER, MOBILE, "/voice/bridge?ref=1",
                                          TWIML_URL))
    assert (refused.status, refused.code) == (400, 21205)
    refused = _refused(lambda: place_call(twilio, HOTLINE_NUMBER, MOBILE, TWIML_URL,
                                          "/voice/bridge/status"))
    assert (refused.status, refused.code) == (400, 21609)
    assert sandbox.calls == []


def test_an_unknown_recording_is_404(services, sandbox, twilio_env):
    twilio = twilio_client(services.settings)
    refused = _refused(lambda: twilio.recordings("RE" + "7" * 32).delete())
    assert (refused.status, refused.code) == (404, 20404)
    known = sandbox.add_recording().rsplit("/", 1)[1]
    assert twilio.recordings(known).delete() is True
    assert (_refused(lambda: twilio.recordings(known).delete()).status) == 404  # gone now
    assert sandbox.deleted_recordings == [known]
    # The deletion job takes "not found" as done, not as a failure to retry.
    services.enqueue("workers.jobs.delete_recording", "RE" + "8" * 32)
    run_jobs(twilio_env)
    assert sandbox.deleted_recordings == [known]


def test_repeated_form_fields_are_kept(twilio, sandbox):
    sid = place_call(twilio, HOTLINE_NUMBER, MOBILE, TWIML_URL, TWIML_URL)
    assert sandbox.fields[sid]["StatusCallbackEvent"] == [
        "initiated", "ringing", "answered", "completed"]
    refused = _refused(lambda: twilio.calls.create(
        to=MOBILE, from_=HOTLINE_NUMBER, url=TWIML_URL, status_callback=TWIML_URL,
        status_callback_event=["initiated", "exploded"]))
    assert (refused.status, refused.code) == (400, 21626)


def _conforms(resource: dict, schema: dict) -> list[str]:
    """What in `resource` differs from the spec's `schema` (empty when it conforms)."""
    problems = [f"missing {k}" for k in schema if k not in resource]
    problems += [f"not in the spec: {k}" for k in resource if k not in schema]
    types = {"string": str, "integer": int, "object": dict}
    for key, rule in schema.items():
        value = resource.get(key)
        if value is None:
            if not rule.get("nullable"):
                problems.append(f"{key} is null")
            continue
        if not isinstance(value, types[rule["type"]]):
            problems.append(f"{key}: {value!r} is not {rule['type']}")
        elif "enum" in rule and value not in rule["enum"]:
            problems.append(f"{key}: {value!r} not in {rule['enum']}")
        elif "pattern" in rule and not re.fullmatch(rule["pattern"], value):
            problems.append(f"{key}: {value!r} does not match {rule['pattern']}")
        elif rule.get("format") == "date-time-rfc-2822" and not re.fullmatch(
                r"\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} \+0000", value):
            problems.append(f"{key}: {value!r} is not RFC 2822")
    return problems


@pytest.mark.parametrize(("kind", "form"), [
    ("Messages", {"To": MOBILE, "From": HOTLINE_NUMBER, "Body": "Hello! 👍"}),
    ("Calls", {"To": MOBILE, "From": HOTLINE_NUMBER, "Url": TWIML_URL}),
])
def test_created_resources_are_shaped_as_in_the_spec(sandbox, kind, form):
    url = f"{sandbox.base_url}/2010-04-01/Accounts/{ACCOUNT}/{kind}.json"
    created = requests.post(url, data=form, auth=(ACCOUNT, TOKEN), timeout=10)
    assert created.status_code == 201
    assert _conforms(created.json(), SPEC["schemas"][kind]) == []
    listed = requests.get(url, params={"To": MOBILE}, auth=(ACCOUNT, TOKEN), timeout=10).json()
    assert [_conforms(r, SPEC["schemas"][kind]) for r in listed[kind.lower()]] == [[]]


def test_num_segments_is_not_computed_by_the_code_under_test():
    imported = {n.module for n in ast.walk(ast.parse(inspect.getsource(sandbox_module)))
                if isinstance(n, ast.ImportFrom)}
    assert not any(m and m.startswith("hotline") for m in imported)


TEXTS = [*load_sms_content(load_content(ROOT)).all_texts().values(),
         "a" * 160, "a" * 161, "a" * 306, "a" * 307, "€" * 80, "€" * 81, "a" * 152 + "€" * 2,
         "ç" * 70, "ç" * 71, "😀" * 35, "😀" * 36, "aa" + "😀" * 66, "ع" * 201, "ع" * 202,
         "a" * 65 + "👍🏽" + "a" * 65, "ع" * 66 + "عَ" + "ع" * 66, "a" * 60 + "👨‍👩‍👧‍👦" + "a" * 60,
         "line\r\n" * 40]


def test_the_project_counts_segments_as_the_sandbox_does(twilio, sandbox):
    """Two implementations agree: the project's (characters and parts) and the sandbox's
    (Twilio's calculator: bits), on every template and the edge cases."""
    for text in TEXTS:
        assert cost(text).segments == sandbox_module.num_segments(text), text
    send_message(twilio, HOTLINE_NUMBER, MOBILE, TEXTS[-3])
    assert sandbox.messages[0]["num_segments"] == "3"


def test_the_worker_imports_the_rest_resources_before_it_forks():
    """The twilio library imports a REST resource on first use (about 0.1 s): `hotline worker`
    warms them up once, so a job in its forked process does not import them again."""
    import subprocess
    import sys

    script = ("import sys; from hotline.twilio import rest; "
              "names = ['twilio.rest.api.v2010.account.message', "
              "'twilio.rest.api.v2010.account.call', 'twilio.rest.api.v2010.account.recording']; "
              "before = [n in sys.modules for n in names]; rest.warm_up(); "
              "print(before, [n in sys.modules for n in names])")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[False, False, False] [True, True, True]", out
