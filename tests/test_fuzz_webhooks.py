"""Property-based tests over every Twilio webhook: a forged, missing or replayed-to-another-URL
signature gets 403; random fields and values, correctly signed, never get a 500."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers import PUBLIC, examples, sign

WEBHOOKS = ["/voice", "/voice/step", "/voice/recording", "/voice/bridge", "/voice/bridge/dialed",
            "/voice/bridge/status", "/voice/missed/status", "/sms", "/sms/status"]
FIELDS = ["From", "To", "Body", "Digits", "CallSid", "MessageSid", "RecordingSid",
          "RecordingUrl", "RecordingStatus", "CallStatus", "DialCallStatus", "CallDuration",
          "AccountSid", "NumMedia", "Direction", "MessageStatus", "ErrorCode"]
QUERY = ["node", "lang", "retry", "ref", "carry", "step", "m", "cb", "try", "key"]
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)
SETTINGS = settings(max_examples=examples(600))


def form(draw_fields: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in draw_fields.items() if k}


fields = st.dictionaries(st.one_of(st.sampled_from(FIELDS), TEXT), TEXT, max_size=8)
queries = st.dictionaries(st.sampled_from(QUERY), st.one_of(
    TEXT, st.sampled_from(["main", "mediator", "enter", "done", "confirm", "languages", "amu",
                           "en", "fr", "123456", "9" * 40])), max_size=5)


@pytest.fixture
def post(app):
    client = app.test_client()

    def send(path: str, params: dict[str, str], signature: str | None):
        headers = {"X-Twilio-Signature": signature} if signature is not None else {}
        return client.post(path, data=params, headers=headers)

    return send


@SETTINGS
@given(hook=st.sampled_from(WEBHOOKS), query=queries, params=fields)
def test_signed_random_requests_never_500(post, hook, query, params):
    path = hook + ("?" + urlencode(query) if query else "")
    response = post(path, form(params), sign(PUBLIC + path, form(params)))
    assert response.status_code < 500, response.get_data(as_text=True)[:500]
    if response.status_code == 200 and hook != "/voice/recording":
        assert response.get_data().startswith(b'<?xml version="1.0" encoding="UTF-8"?><Response')


@SETTINGS
@given(hook=st.sampled_from(WEBHOOKS), params=fields, forged=st.one_of(
    st.none(), st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)))
def test_missing_or_forged_signatures_are_403(post, hook, params, forged):
    assert post(hook, form(params), forged).status_code == 403


@SETTINGS
@given(hook=st.sampled_from(WEBHOOKS), other=st.sampled_from(WEBHOOKS), params=fields,
       query=queries)
def test_a_signature_replayed_to_another_url_is_403(post, hook, other, params, query):
    signed_for = hook + ("?" + urlencode(query) if query else "")
    target = other + "?replayed=1"
    response = post(target, form(params), sign(PUBLIC + signed_for, form(params)))
    assert response.status_code == 403
