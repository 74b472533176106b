"""Webhook signatures checked as Twilio's validator checks them (issue 14, item 16): over the URL
exactly as Twilio requested it, with the body's hash for JSON bodies, and with the HMAC-SHA256
scheme of a Webhooks SharedKey when Twilio's header names it."""

from __future__ import annotations

import hashlib
import json

import pytest
from twilio.request_validator import RequestValidator

from hotline.app import create_app
from tests.helpers import CALL, PUBLIC, TOKEN, sign

SHARED_KEY = "shared-key-secret-0123456789abcdef"
SETTINGS_HEADER = "X-Twilio-Webhooks-Signature-Settings"
SHA256_SETTINGS = "key=webhooks_sharedkey_0123456789abcdef,algorithm=HMAC_SHA256"


@pytest.mark.parametrize("path", [
    "/voice/step?node=main&lang=en&x=caf%C3%A9",  # a percent-encoded UTF-8 letter
    "/voice/step?node=main&lang=en&x=%7E%2F",  # characters that need no encoding, encoded
    "/voice/st%65p?node=main&lang=en",  # in the path too
])
def test_the_signature_covers_the_url_as_requested_not_as_decoded(client, redis_server, path):
    """Twilio signs the URL it requested byte for byte; a URL rebuilt from its decoded parts
    (`é`, `~`, `/` for `%C3%A9`, `%7E`, `%2F`) is another string, and the check would refuse
    Twilio itself."""
    params = {**CALL, "Digits": "1"}
    response = client.post(path, data=params,
                           headers={"X-Twilio-Signature": sign(PUBLIC + path, params)})
    assert response.status_code == 200
    decoded = client.post(path, data=params, headers={
        "X-Twilio-Signature": sign(PUBLIC + "/voice/step?node=main&lang=en&x=café", params)})
    assert decoded.status_code == 403
    behind_no_proxy = create_app({"TWILIO_AUTH_TOKEN": TOKEN, "REDIS_URL": redis_server.url})
    response = behind_no_proxy.test_client().post(
        path, data=params, headers={"X-Twilio-Signature": sign("http://localhost" + path, params)})
    assert response.status_code == 200


def _json_post(client, body: str, signed_body: str):
    """A JSON webhook as Twilio sends one: the body's SHA-256 in the URL, the URL signed."""
    path = "/voice?bodySHA256=" + hashlib.sha256(signed_body.encode()).hexdigest()
    return client.post(path, data=body, content_type="application/json",
                       headers={"X-Twilio-Signature": sign(PUBLIC + path, {})})


def test_a_json_body_must_match_the_hash_twilio_signed(client):
    body = json.dumps({"CallSid": CALL["CallSid"], "From": CALL["From"]})
    assert _json_post(client, body, body).status_code == 200
    forged = json.dumps({"CallSid": CALL["CallSid"], "From": "+32470000000"})
    assert _json_post(client, forged, body).status_code == 403


def _sha256_signed(client, secret: str, settings_header: str | None = SHA256_SETTINGS):
    signature = RequestValidator(secret).compute_signature(PUBLIC + "/voice", CALL,
                                                           algorithm="HMAC_SHA256")
    headers = {"X-Twilio-Signature": signature}
    if settings_header is not None:
        headers[SETTINGS_HEADER] = settings_header
    return client.post("/voice", data=CALL, headers=headers)


@pytest.fixture
def shared_key_client(redis_server, tmp_path):
    """The service with a Webhooks SharedKey's secret set beside the auth token."""
    return create_app({"TWILIO_AUTH_TOKEN": TOKEN, "TWILIO_WEBHOOK_SHARED_KEY": SHARED_KEY,
                       "PUBLIC_BASE_URL": PUBLIC, "REDIS_URL": redis_server.url,
                       "VAR_DIR": tmp_path / "var"}).test_client()


def test_hmac_sha256_with_the_shared_key_is_accepted(shared_key_client):
    assert _sha256_signed(shared_key_client, SHARED_KEY).status_code == 200


def test_hmac_sha256_is_refused_when_it_is_not_the_shared_key(shared_key_client, client):
    # signed with the auth token, or with no header saying which scheme, or unknown scheme
    assert _sha256_signed(shared_key_client, TOKEN).status_code == 403
    assert _sha256_signed(shared_key_client, SHARED_KEY, None).status_code == 403
    assert _sha256_signed(shared_key_client, SHARED_KEY,
                          "key=x,algorithm=HMAC_MD5").status_code == 403
    # the header names a shared key, but none is set: a refusal, not a 500
    assert _sha256_signed(client, SHARED_KEY).status_code == 403


def test_the_auth_token_still_signs_without_the_settings_header(shared_key_client):
    headers = {"X-Twilio-Signature": sign(PUBLIC + "/voice", CALL)}
    assert shared_key_client.post("/voice", data=CALL, headers=headers).status_code == 200


def test_a_signature_with_non_ascii_characters_is_a_refusal_not_a_500(client):
    headers = {"X-Twilio-Signature": "é" + sign(PUBLIC + "/voice", CALL)[1:]}
    assert client.post("/voice", data=CALL, headers=headers).status_code == 403
