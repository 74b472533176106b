"""What requests and jobs share: content, audio, privacy keys, Redis, the Twilio client."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar

import redis
from redis import Redis
from rq import Queue
from rq.job import Job
from twilio.rest import Client

from hotline.audio.library import AudioLibrary
from hotline.callbacks.hours import OpeningHours
from hotline.callbacks.queue import CallbackQueue
from hotline.callbacks.spool import Spool
from hotline.console.mediators import Mediators
from hotline.content.ivr import Content, load_content
from hotline.content.sms import SmsContent, load_sms_content
from hotline.engine.sms import Reply
from hotline.settings import Settings
from hotline.state.client import TextRedis
from hotline.state.deferred import DeferredWrites
from hotline.state.events import Events
from hotline.state.privacy import Privacy, secret_from
from hotline.twilio.rest import twilio_client

CONNECTION = {"socket_timeout": 2, "socket_connect_timeout": 2, "health_check_interval": 30}
QUEUE = "hotline"  # the one RQ queue: every job of the web, the CLI and the workers
KEPT_MAX = 4096  # the most a `kept` table holds
T = TypeVar("T")


def kept(table: dict[Any, T], key: Any, make: Callable[[], T]) -> T:
    """`table[key]`, made by `make` the first time (never pass anything personal: a caller's
    number, a ticket's reference); `table` is emptied when it holds KEPT_MAX."""
    found = table.get(key)
    if found is None:
        found = make()
        if len(table) >= KEPT_MAX:
            table.clear()
        table[key] = found
    return found


def job_queue(connection: redis.Redis) -> Queue:
    """The RQ queue every job goes to."""
    return Queue(QUEUE, connection=connection)


def enqueue(connection: redis.Redis, func: Callable[..., Any], *args: Any, **options: Any) -> Job:
    """Enqueue `func` (a job function of `workers`, passed as itself) with `args`; `options` are
    RQ's (retry, job_id, result_ttl, description…)."""
    return job_queue(connection).enqueue(func, *args, **options)


@dataclass
class Services:
    """One per process: built at start-up, so broken content stops it before it serves anything."""

    settings: Settings
    content: Content
    sms: SmsContent
    audio: AudioLibrary
    privacy: Privacy
    _redis: TextRedis | None = field(default=None, repr=False)
    _rq: Redis | None = field(default=None, repr=False)
    # TwiML documents the same for everyone who gets them (menus, SMS answers): see `kept`
    rendered: dict[Any, str] = field(default_factory=dict, repr=False)
    # seconds until an item's text has played, by (turn, audio build): see _item_seconds there
    item_seconds: dict[Any, float] = field(default_factory=dict, repr=False)
    # the SMS engine's replies to a lone keyword, by (message, conversation): see hotline.twilio.sms
    keyword_replies: dict[Any, Reply] = field(default_factory=dict, repr=False)
    _offered: tuple[object, tuple[str, ...]] | None = field(default=None, repr=False)
    # monotonic time before which the voice line does not count events (Redis failed)
    events_paused_until: float = field(default=0.0, repr=False)

    def offered_languages(self) -> tuple[str, ...]:
        """The languages the voice line can speak whole (see `voice_ready`), worked out again
        whenever the audio manifest changes."""
        version = self.audio.version()
        if self._offered is None or self._offered[0] != version:
            from hotline.audio.status import voice_ready

            ready = voice_ready(self.content, self.audio, self.hours.opening_times())
            self._offered = (version, ready)
        return self._offered[1]

    @property
    def redis(self) -> TextRedis:
        """The client for the service's own keys, values decoded to str (one pool per process)."""
        if self._redis is None:
            self._redis = TextRedis.connect(self._url(), **CONNECTION)
        return self._redis

    @property
    def rq(self) -> Redis:
        """The client RQ needs (its values are bytes): for queues, jobs and registries."""
        if self._rq is None:
            self._rq = Redis.from_url(self._url(), **CONNECTION)
        return self._rq

    def _url(self) -> str:
        if not self.settings.redis_url:
            raise redis.ConnectionError("REDIS_URL is not set: start with `hotline run`")
        return self.settings.redis_url

    @cached_property
    def callbacks(self) -> CallbackQueue:
        """The callback tickets and queues."""
        return CallbackQueue(self.redis, self.settings.claim_seconds, self.settings.max_attempts,
                             events=self.events)

    @cached_property
    def deferred(self) -> DeferredWrites:
        """This process's writes that no answer waits for (hotline.state.deferred)."""
        return DeferredWrites(self.redis)

    @cached_property
    def events(self) -> Events:
        """The anonymous event counts the reports read, in the opening hours' time zone."""
        return Events(self.redis, self.hours.zone, self.deferred)

    @cached_property
    def mediators(self) -> Mediators:
        """The mediator accounts."""
        return Mediators(self.redis, self.privacy)

    @cached_property
    def spool(self) -> Spool:
        """Callback requests kept on disk while Redis is unreachable."""
        return Spool(self.settings.var_dir / "spool")

    @cached_property
    def hours(self) -> OpeningHours:
        """When mediators call back."""
        return self.settings.hours()

    @cached_property
    def twilio(self) -> Client:
        """The Twilio REST client."""
        return twilio_client(self.settings)

    def enqueue(self, func: Callable[..., Any], *args: Any, **options: Any) -> Job:
        """Enqueue a job on this process's Redis; see `enqueue`."""
        return enqueue(self.rq, func, *args, **options)

    def redis_status(self) -> str:
        """"ok", "unreachable" or "not configured", for health reports."""
        if not self.settings.redis_url:
            return "not configured"
        try:
            self.redis.ping()
        except redis.RedisError:
            return "unreachable"
        return "ok"


def build_services(settings: Settings) -> Services:
    """Load and validate all content; raises ContentError naming every broken file and key."""
    content = load_content(settings.content_root)
    return Services(
        settings=settings,
        content=content,
        sms=load_sms_content(content),
        audio=AudioLibrary(settings.audio_root),
        privacy=Privacy(secret_from(settings.secret_key, settings.var_dir)),
    )
