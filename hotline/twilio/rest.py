"""Twilio's REST API through the twilio library, pointed at TWILIO_API_BASE_URL (tests: local)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import requests
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

if TYPE_CHECKING:
    from hotline.settings import Settings

TIMEOUT_SECONDS = 10


def twilio_client(settings: Settings) -> Client:
    """A REST client for the configured account; API calls go to TWILIO_API_BASE_URL."""
    client = Client(
        settings.twilio_account_sid, settings.twilio_auth_token,
        http_client=TwilioHttpClient(timeout=TIMEOUT_SECONDS),
    )
    client.api.base_url = settings.twilio_api_base_url.rstrip("/")
    return client


def warm_up() -> None:
    """Import the REST resources the jobs use (messages, calls, recordings). The twilio library
    imports them on first use, about 0.1 s; an RQ worker that forks a process per job calls this
    before forking, so each job does not pay it again."""
    client = Client("AC" + "0" * 32, "warm-up")  # nothing is sent: attribute access only
    _ = client.messages, client.calls, client.recordings


def send_message(client: Client, sender: str, to: str, body: str,
                 status_callback: str | None = None) -> str:
    """Send one SMS, its delivery status to `status_callback` (an absolute URL) when given;
    returns its Message SID. Raises TwilioException / requests errors."""
    extra = {"status_callback": status_callback} if status_callback else {}
    return str(client.messages.create(to=to, from_=sender, body=body, **extra).sid)


def place_call(client: Client, caller_id: str, to: str, url: str, status_callback: str) -> str:
    """Place one call whose TwiML is at `url`; returns its Call SID."""
    call = client.calls.create(
        to=to, from_=caller_id, url=url, method="POST", status_callback=status_callback,
        status_callback_method="POST",
        status_callback_event=["initiated", "ringing", "answered", "completed"],
    )
    return str(call.sid)


def find_message(client: Client, sender: str, to: str, body: str, since: float) -> str | None:
    """The SID of a message with this body sent from `sender` to `to` since `since`, if any."""
    for message in client.messages.list(to=to, from_=sender, limit=50):
        created = message.date_created
        if message.body == body and created and created.timestamp() >= since - 60:
            return str(message.sid)
    return None


def find_call(client: Client, caller_id: str, to: str, since: float) -> str | None:
    """The SID of a call placed from `caller_id` to `to` since `since`, if any."""
    for call in client.calls.list(to=to, from_=caller_id, limit=20):
        created = call.date_created
        if created and created.timestamp() >= since - 60:
            return str(call.sid)
    return None


def fetch_recording(settings: Settings, sid: str) -> bytes:
    """The media of recording `sid` as WAV, from TWILIO_API_BASE_URL with the account's
    credentials (the URL is built from the SID, never taken from a request). Raises
    requests.HTTPError for an answer other than 200."""
    base = settings.twilio_api_base_url.rstrip("/")
    url = f"{base}/2010-04-01/Accounts/{settings.twilio_account_sid}/Recordings/{sid}.wav"
    answer = requests.get(url, timeout=TIMEOUT_SECONDS * 3, auth=(
        settings.twilio_account_sid, settings.twilio_auth_token))
    answer.raise_for_status()
    return answer.content
