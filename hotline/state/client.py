"""The Redis client for the service's own keys: replies decoded to str in one place.

RQ keeps its own client (its values are bytes): `Services.rq`.
"""

from __future__ import annotations

from typing import Any, cast

import redis
from redis.typing import KeyT


class TextRedis(redis.Redis):
    """`redis.Redis` with decode_responses=True, and the reads this service uses typed as str
    (redis-py types them bytes | str whatever the option)."""

    @classmethod
    def connect(cls, url: str, **options: Any) -> TextRedis:
        """A client for `url` whose replies are str."""
        return cast(TextRedis, cls.from_url(url, decode_responses=True, **options))

    def get(self, name: KeyT) -> str | None:
        return cast("str | None", super().get(name))

    def mget(self, keys: Any, *args: Any) -> list[str | None]:  # type: ignore[override]
        return cast("list[str | None]", super().mget(keys, *args))

    def hget(self, name: str, key: str) -> str | None:  # type: ignore[override]
        return cast("str | None", super().hget(name, key))

    def hgetall(self, name: str) -> dict[str, str]:  # type: ignore[override]
        return cast("dict[str, str]", super().hgetall(name))

    def smembers(self, name: KeyT) -> set[str]:  # type: ignore[override]
        return cast("set[str]", super().smembers(name))

    def keys(self, pattern: KeyT = "*", **kwargs: Any) -> list[str]:  # type: ignore[override]
        return cast("list[str]", super().keys(pattern, **kwargs))

    def lrange(self, name: KeyT, start: int, end: int) -> list[str]:  # type: ignore[override]
        return cast("list[str]", super().lrange(name, start, end))

    def zrange(self, name: KeyT, start: int, end: int,  # type: ignore[override]
               *args: Any, **kwargs: Any) -> list[str]:
        return cast("list[str]", super().zrange(name, start, end, *args, **kwargs))

    def zrangebyscore(self, name: KeyT, min: Any, max: Any,  # type: ignore[override]
                      *args: Any, **kwargs: Any) -> list[str]:
        return cast("list[str]", super().zrangebyscore(name, min, max, *args, **kwargs))
