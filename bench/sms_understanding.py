"""What understanding free text costs per SMS: the engine's reply to every message of the
evaluation sets, timed many times, against the first-word keyword look-up it replaced.

    .venv/bin/python -m bench.sms_understanding

Prints medians in microseconds; no assertion (the target is at most 1 ms more per SMS).
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from hotline.content.ivr import load_content
from hotline.content.keywords import words
from hotline.content.sms import load_sms_content
from hotline.content.sms_eval import EVAL_FILES, read_cases
from hotline.engine.sms import Conversation, reply
from hotline.engine.understanding import understand

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = 30


def median_us(function, bodies: list[str]) -> float:
    """The median over the bodies of the mean time `function` takes on each, in µs."""
    times = []
    for body in bodies:
        start = time.perf_counter()
        for _ in range(ROUNDS):
            function(body)
        times.append((time.perf_counter() - start) / ROUNDS * 1e6)
    return statistics.median(times)


def main() -> None:
    sms = load_sms_content(load_content(ROOT))
    bodies = [case.message for name in EVAL_FILES for case in read_cases(ROOT / name)]
    fresh = Conversation()
    for body in bodies:  # warm caches (the script-of-letter cache, the identifier)
        reply(sms, fresh, body)

    def keyword_only(body: str) -> object:
        typed = words(body)
        return sms.keywords.match(typed[0]) if typed else None

    old = median_us(keyword_only, bodies)
    new = median_us(lambda body: understand(sms, body), bodies)
    whole = median_us(lambda body: reply(sms, fresh, body), bodies)
    print(f"{len(bodies)} messages, {ROUNDS} rounds each; median per SMS:")
    print(f"  first-word keyword look-up (before): {old:8.1f} µs")
    print(f"  understand() (now):                  {new:8.1f} µs")
    print(f"  whole engine reply (now):            {whole:8.1f} µs")
    print(f"  added by understanding:              {new - old:8.1f} µs")


if __name__ == "__main__":
    main()
