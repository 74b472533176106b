"""Who saw which caller's number, when: an append-only log that admins read in the console.

Key: `audit:log`, a list of JSON entries {at, login, ref, action}, newest first, the last
KEEP_ENTRIES kept. It names tickets, never numbers.
"""

from __future__ import annotations

import json
import time

from hotline.state.client import TextRedis

KEEP_ENTRIES = 10_000


def record(r: TextRedis, login: str, ref: str, action: str) -> None:
    """Note that `login` did `action` ("saw the number", "called"…) on ticket `ref`."""
    entry = json.dumps({"at": time.time(), "login": login, "ref": ref, "action": action})
    pipe = r.pipeline()
    pipe.lpush("audit:log", entry)
    pipe.ltrim("audit:log", 0, KEEP_ENTRIES - 1)
    pipe.execute()


def recent(r: TextRedis, count: int = 200) -> list[dict[str, object]]:
    """The newest `count` entries."""
    return [json.loads(e) for e in r.lrange("audit:log", 0, count - 1)]
