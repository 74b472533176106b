"""What every content file shares: reading YAML, naming problems by file and key, a language
file's header, and the one placeholder syntax (`{name}`, as Python's str.format; `{{` for a brace).
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from ruamel.yaml import YAML

STATUSES = frozenset({"draft", "reviewed"})


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a content file."""

    file: str
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.key}" if self.key else self.file
        return f"{where}: {self.message}"


class ContentError(Exception):
    """The content cannot be served; `problems` says where and why."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("content is broken:\n" + "\n".join(f"  {p}" for p in problems))


class Checker:
    """Collects problems found in one file."""

    def __init__(self, file: str, problems: list[Problem]):
        self.file = file
        self.problems = problems

    def fail(self, key: str, message: str) -> None:
        self.problems.append(Problem(self.file, key, message))


def relative_name(path: Path, root: Path) -> str:
    """`path` as the CSO sees it: relative to the content root when inside it."""
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


# libyaml's safe loader when PyYAML was built with it (about ten times faster), else PyYAML's own.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(path: Path, root: Path, problems: list[Problem]) -> dict[str, Any] | None:
    """The mapping in a YAML file, or None after adding the reason to `problems`."""
    name = relative_name(path, root)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)
    except FileNotFoundError:
        problems.append(Problem(name, "", "file is missing"))
        return None
    except UnicodeDecodeError as exc:
        problems.append(Problem(name, "", f"not UTF-8 text ({exc.reason})"))
        return None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problems.append(Problem(name, "", f"not valid YAML: {where}{getattr(exc, 'problem', exc)}"))
        return None
    if not isinstance(data, dict):
        problems.append(Problem(name, "", "must be a mapping of keys to values"))
        return None
    return data


def placeholders(text: str) -> list[str]:
    """The `{name}`s in `text`; raises ValueError for a malformed brace."""
    return [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]


def fill(text: str, values: Mapping[str, str]) -> str:
    """`text` with its placeholders replaced by `values`."""
    return text.format_map(values)


def language_file(path: Path, root: Path, code: str,
                  problems: list[Problem]) -> tuple[dict[str, Any], Checker] | None:
    """A language file's mapping and checker, its `language` and `status` checked; None (with the
    reason in `problems`) when it cannot be read."""
    data = read_yaml(path, root, problems)
    if data is None:
        return None
    check = Checker(relative_name(path, root), problems)
    if data.get("language") != code:
        check.fail("language", f"must be {code!r}, the file's name")
    if data.get("status", "draft") not in STATUSES:
        check.fail("status", "must be draft or reviewed")
    return data, check


def round_trip_yaml() -> YAML:
    """A ruamel.yaml reader and writer that keeps a content file's comments, key order, quotes
    and line folding, with this project's indentation, so what it does not change it writes back
    byte for byte."""
    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096  # never wrap a line the file did not wrap
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml
