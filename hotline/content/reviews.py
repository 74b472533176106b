"""Reviews bound to the exact text: who reviewed which prompt or SMS text, of which kind, when,
and for which text (the SHA-256 of the text as the line uses it).

A ledger per channel and language sits beside the texts it reviews:
`ivr_scripts/reviews/<lang>.yaml` (voice prompts, by prompt key) and
`sms_templates/reviews/<lang>.yaml` (SMS texts and labels, as `texts.<name>` and `labels.<name>`).
It only grows; the newest review of a key and kind counts. A text is *reviewed* while every kind
it needs (`language`, plus `legal` for the texts of information items, which state facts) has a
review of its current text; *stale* when a review exists but of another text (the text changed
since); else *draft*. The review status of every text is derived from the ledger, never typed.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import io
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from hotline.content.files import Checker, Problem, read_yaml, relative_name, round_trip_yaml

VOICE, SMS = "voice", "sms"
CHANNELS = (VOICE, SMS)
FOLDERS = {VOICE: "ivr_scripts", SMS: "sms_templates"}
KINDS = ("language", "legal")
REVIEWED, STALE, DRAFT = "reviewed", "stale", "draft"
STATES = (REVIEWED, STALE, DRAFT)

_HEADER = """\
# Reviews of {file}, each bound to the exact text it approved (the sha256 of
# the text as the line uses it): a changed text makes its reviews stale. Written by
# `hotline content review`; the newest review of a key and kind counts.
# kind: language (a native speaker) or legal (the facts).
"""


class ReviewError(ValueError):
    """A review that cannot be recorded: unknown language, key or kind, or no reviewer."""


@dataclass(frozen=True)
class Review:
    """One reviewer's approval of one text."""

    key: str
    kind: str
    by: str
    date: dt.date
    sha256: str


@dataclass(frozen=True)
class TextReview:
    """A text's review state: `needs` the kinds it must have, `current` those that approve its
    present text, `outdated` those whose newest review approved another text."""

    state: str
    needs: tuple[str, ...]
    current: tuple[str, ...]
    outdated: tuple[str, ...]


def text_hash(text: str) -> str:
    """The hash a review is bound to: SHA-256 of the text's UTF-8 bytes, in hex."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def ledger_path(root: Path, channel: str, lang: str) -> Path:
    """Where the reviews of `lang`'s texts of `channel` are kept."""
    return Path(root) / FOLDERS[channel] / "reviews" / f"{lang}.yaml"


def read_ledger(root: Path, channel: str, lang: str, problems: list[Problem]) -> list[Review]:
    """The reviews in the ledger, oldest first; none when it does not exist. A malformed entry
    is added to `problems`, naming the file and the entry."""
    path = ledger_path(root, channel, lang)
    if not path.exists():
        return []
    data = read_yaml(path, root, problems)
    if data is None:
        return []
    check = Checker(relative_name(path, root), problems)
    if data.get("language") != lang:
        check.fail("language", f"must be {lang!r}, the file's name")
    raw = data.get("reviews") or []
    if not isinstance(raw, list):
        check.fail("reviews", "must be a list of reviews")
        return []
    reviews = []
    for i, entry in enumerate(raw):
        where = f"reviews[{i}]"
        if not isinstance(entry, dict):
            check.fail(where, "must be a mapping with key, kind, by, date and sha256")
            continue
        key, kind, by, day, sha = (entry.get(f) for f in ("key", "kind", "by", "date", "sha256"))
        if not isinstance(key, str) or not key:
            check.fail(where, "needs the key of the text reviewed")
        elif kind not in KINDS:
            check.fail(where, f"kind must be {' or '.join(KINDS)}, not {kind!r}")
        elif not isinstance(by, str) or not by.strip():
            check.fail(where, "needs the reviewer's name (by)")
        elif not isinstance(day, dt.date):
            check.fail(where, "needs the day of the review (date: YYYY-MM-DD)")
        elif not isinstance(sha, str) or len(sha) != 64:
            check.fail(where, "needs the sha256 of the text reviewed")
        else:
            reviews.append(Review(key, str(kind), by.strip(), day, sha))
    return reviews


def review_states(texts: Mapping[str, str], reviews: Iterable[Review],
                  facts: Iterable[str] = ()) -> dict[str, TextReview]:
    """The review state of each text of `texts` (key -> current text); the keys in `facts`
    need a legal review as well as a language review."""
    newest: dict[tuple[str, str], Review] = {}
    for review in reviews:
        newest[(review.key, review.kind)] = review
    fact_keys = set(facts)
    out = {}
    for key, text in texts.items():
        needs = KINDS if key in fact_keys else ("language",)
        sha = text_hash(text)
        found = [(kind, newest.get((key, kind))) for kind in KINDS]
        current = tuple(k for k, r in found if r is not None and r.sha256 == sha)
        outdated = tuple(k for k, r in found if r is not None and r.sha256 != sha)
        if all(kind in current for kind in needs):
            state = REVIEWED
        elif outdated:
            state = STALE
        else:
            state = DRAFT
        out[key] = TextReview(state, needs, current, outdated)
    return out


def status_claims(file: str, section: str, file_status: object, claimed: Mapping[str, str],
                  states: Mapping[str, TextReview]) -> list[str]:
    """Warnings for a file's `status: reviewed` (or a text's own) that the ledger does not back:
    the status is derived from the ledger, so a typed claim can only be wrong."""
    out = [f"{file}: {section}.{key}: says reviewed, but the review ledger has it "
           f"{states[key].state} (the ledger counts)"
           for key, status in claimed.items() if status == REVIEWED and key in states
           and states[key].state != REVIEWED]
    if file_status == REVIEWED:
        found = counts({k: v for k, v in states.items() if k not in claimed})
        if found[REVIEWED] < sum(found.values()):
            out.append(f"{file}: status: says reviewed, but the review ledger has "
                       f"{found[STALE]} stale and {found[DRAFT]} draft texts (the ledger counts)")
    return out


def counts(states: Mapping[str, TextReview]) -> dict[str, int]:
    """How many texts are reviewed, stale and draft."""
    found = dict.fromkeys(STATES, 0)
    for review in states.values():
        found[review.state] += 1
    return found


def append_review(root: Path, channel: str, lang: str, review: Review) -> None:
    """Add `review` to the ledger (created when missing), keeping its comments and order."""
    path = ledger_path(root, channel, lang)
    path.parent.mkdir(parents=True, exist_ok=True)
    yaml = round_trip_yaml()
    with locked(path.parent):
        if path.exists():
            data = yaml.load(path.read_text(encoding="utf-8"))
        else:
            name = relative_name(root / FOLDERS[channel] / f"{lang}.yaml", root)
            data = yaml.load(_HEADER.format(file=name) + f"language: {lang}\nreviews: []\n")
        if not isinstance(data, dict):
            raise ReviewError(f"{relative_name(path, root)}: must be a mapping (language, reviews)")
        if data.get("reviews") is None:
            data["reviews"] = []
        if not isinstance(data["reviews"], CommentedSeq) or data["reviews"].fa.flow_style():
            data["reviews"] = CommentedSeq(data["reviews"])
            data["reviews"].fa.set_block_style()
        # Quoted: a name such as No or On must stay text for every YAML reader.
        entry = CommentedMap(key=review.key, kind=review.kind,
                             by=DoubleQuotedScalarString(review.by), date=review.date,
                             sha256=review.sha256)
        entry.fa.set_flow_style()
        data["reviews"].append(entry)
        out = io.StringIO()
        yaml.dump(data, out)
        write_atomically(path, out.getvalue())


@contextmanager
def locked(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on `folder` (one writer of its files at a time, across processes)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def write_atomically(path: Path, text: str) -> None:
    """Replace `path` with `text` at once: a reader sees the old file or the new, never half."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        else:
            os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
