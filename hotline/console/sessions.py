"""Console sessions kept in Redis: logging out, or disabling an account, ends them at once in every
web process. The signed session cookie holds only a random session id.

Keys (`<id>` is the SHA-256 of the session id: someone reading Redis cannot use it as a cookie):
- `console:session:<id>`       hash: login, created, seen (epoch seconds); expires IDLE_SECONDS
                               after the last request, and is refused LIFETIME_SECONDS after login
- `console:sessions:<login>`   set of that login's `<id>`s, to end them all; expires with the last
"""

from __future__ import annotations

import hashlib
import secrets
import time

from hotline.state.client import TextRedis

IDLE_SECONDS = 30 * 60
LIFETIME_SECONDS = 8 * 3600


def _key(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()[:32]


class Sessions:
    """The console's sessions in Redis."""

    def __init__(self, r: TextRedis):
        self.r = r

    def start(self, login: str) -> str:
        """Open a session for `login`; returns its id (for the cookie)."""
        session_id, now = secrets.token_urlsafe(32), time.time()
        key = _key(session_id)
        pipe = self.r.pipeline()
        pipe.hset(f"console:session:{key}", mapping={"login": login, "created": repr(now),
                                                      "seen": repr(now)})
        pipe.expire(f"console:session:{key}", IDLE_SECONDS)
        pipe.sadd(f"console:sessions:{login}", key)
        pipe.expire(f"console:sessions:{login}", LIFETIME_SECONDS)
        pipe.execute()
        return session_id

    def login_of(self, session_id: str) -> str | None:
        """The login of a live session, and note it active now; None when the session is unknown,
        ended, idle over IDLE_SECONDS or older than LIFETIME_SECONDS (then it is ended)."""
        key, now = _key(session_id), time.time()
        data = self.r.hgetall(f"console:session:{key}")
        if not data:
            return None
        if now - float(data["created"]) > LIFETIME_SECONDS or now - float(data["seen"]) > (
                IDLE_SECONDS):
            self.end(session_id)
            return None
        pipe = self.r.pipeline()
        pipe.hset(f"console:session:{key}", "seen", repr(now))
        pipe.expire(f"console:session:{key}", IDLE_SECONDS)
        pipe.execute()
        return data["login"]

    def end(self, session_id: str) -> None:
        """End one session (logging out)."""
        key = _key(session_id)
        login = self.r.hget(f"console:session:{key}", "login")
        pipe = self.r.pipeline()
        pipe.delete(f"console:session:{key}")
        if login:
            pipe.srem(f"console:sessions:{login}", key)
        pipe.execute()

    def end_all(self, login: str) -> None:
        """End every session of `login` (its account was disabled)."""
        keys = self.r.smembers(f"console:sessions:{login}")
        self.r.delete(f"console:sessions:{login}", *(f"console:session:{k}" for k in keys))
