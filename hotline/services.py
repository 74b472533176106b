"""What requests and jobs share: content, audio, privacy keys, Redis, the Twilio client."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import redis
from twilio.rest import Client

from hotline.audio.library import AudioLibrary
from hotline.callbacks.hours import OpeningHours, parse_hours
from hotline.callbacks.queue import CallbackQueue
from hotline.callbacks.spool import Spool
from hotline.console.mediators import Mediators
from hotline.content.ivr import Content, load_content
from hotline.content.sms import SmsContent, load_sms_content
from hotline.state.privacy import Privacy, secret_from
from hotline.twilio.rest import twilio_client


@dataclass
class Services:
    """One per process: built at start-up, so broken content stops it before it serves anything."""

    config: dict[str, Any]
    content: Content
    sms: SmsContent
    audio: AudioLibrary
    privacy: Privacy
    _redis: redis.Redis | None = field(default=None, repr=False)
    # TwiML documents of the menus, by (turn, time slice): see hotline.twilio.voice._twiml
    rendered: dict[Any, str] = field(default_factory=dict, repr=False)

    @property
    def redis(self) -> redis.Redis:
        """The Redis client (one connection pool per process)."""
        if self._redis is None:
            url = self.config.get("REDIS_URL")
            if not url:
                raise redis.ConnectionError("REDIS_URL is not set: start with `hotline run`")
            self._redis = redis.Redis.from_url(
                url, socket_timeout=2, socket_connect_timeout=2, health_check_interval=30)
        return self._redis

    @cached_property
    def callbacks(self) -> CallbackQueue:
        """The callback tickets and queues."""
        return CallbackQueue(self.redis, self.config["CLAIM_SECONDS"], self.config["MAX_ATTEMPTS"])

    @cached_property
    def mediators(self) -> Mediators:
        """The mediator accounts."""
        return Mediators(self.redis, self.privacy)

    @cached_property
    def spool(self) -> Spool:
        """Callback requests kept on disk while Redis is unreachable."""
        return Spool(self.config["VAR_DIR"] / "spool")

    @cached_property
    def hours(self) -> OpeningHours:
        """When mediators call back."""
        return parse_hours(self.config["OPENING_HOURS"], self.config["TIMEZONE"])

    @cached_property
    def twilio(self) -> Client:
        """The Twilio REST client."""
        return twilio_client(self.config)

    def redis_status(self) -> str:
        """"ok", "unreachable" or "not configured", for health reports."""
        if not self.config.get("REDIS_URL"):
            return "not configured"
        try:
            self.redis.ping()
        except redis.RedisError:
            return "unreachable"
        return "ok"


def build_services(config: dict[str, Any]) -> Services:
    """Load and validate all content; raises ContentError naming every broken file and key."""
    content = load_content(config["CONTENT_ROOT"])
    parse_hours(config["OPENING_HOURS"], config["TIMEZONE"])  # a bad setting stops start-up
    return Services(
        config=config,
        content=content,
        sms=load_sms_content(content),
        audio=AudioLibrary(config["AUDIO_ROOT"]),
        privacy=Privacy(secret_from(config["SECRET_KEY"], config["VAR_DIR"])),
    )
