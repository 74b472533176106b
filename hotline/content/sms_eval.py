"""The SMS understanding's evaluation sets: messages as people text them, and how well the line
answers them.

`tests/cases/sms_eval.tsv` (tuned on) and `tests/cases/sms_eval_heldout.tsv` (never tuned on) hold
one message a line: the message, the languages a right answer may be in (space-separated), and the
expected topic: `help` (the main menu), a node of the voice menu (its menu, or any item under it),
`mediator` (a callback request), `stop` (an opt-out) or `any` (only the language is judged).
Lines starting with # are comments.

Each message is answered by the SMS engine as a first contact (nothing remembered). A numbered
language menu counts for `help` only when every language it offers is an expected one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from hotline.content.sms import SmsContent

EVAL_FILES = ("tests/cases/sms_eval.tsv", "tests/cases/sms_eval_heldout.tsv")


@dataclass(frozen=True)
class Case:
    """One message and what a right answer is."""

    message: str
    langs: tuple[str, ...]
    topic: str
    line: int


@dataclass(frozen=True)
class Outcome:
    """How the line answered one case: `got` names the answer, e.g. "fr:money"."""

    case: Case
    ok: bool
    got: str


def read_cases(path: Path) -> list[Case]:
    """The cases of one TSV file; raise ValueError naming the line of a malformed one."""
    cases = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 3 or not fields[0].strip() or not fields[1].split():
            raise ValueError(f"{path.name}:{number}: want message<TAB>languages<TAB>topic")
        cases.append(Case(fields[0], tuple(fields[1].split()), fields[2].strip(), number))
    return cases


class Judge:
    """Answers cases with the SMS engine and says whether each answer is right."""

    def __init__(self, sms: SmsContent):
        self.sms = sms
        self._known: dict[str, tuple[str, str]] = {}  # text -> (language, node)
        for code, language in sms.languages.items():
            for name, node in sms.voice.nodes.items():
                if node.type == "menu":
                    self._known[sms.menu(code, name)] = (code, name)
                elif node.type == "info":
                    self._known[sms.item(code, name)] = (code, name)
            self._known[language.texts["stop_confirm"]] = (code, "stop")

    def outcome(self, case: Case) -> Outcome:
        """Answer `case.message` as a first contact and judge the answer."""
        from hotline.engine.sms import Conversation, reply

        answer = reply(self.sms, Conversation(), case.message)
        if answer.callback == "open":
            lang, node = answer.answer_lang or "?", "mediator"
        elif answer.text in self._known:
            lang, node = self._known[answer.text]
        elif answer.offered:
            offered = set(answer.offered)
            ok = case.topic == "help" and offered <= set(case.langs)
            return Outcome(case, ok, f"language menu {' '.join(answer.offered)}")
        else:
            got = "welcome (every language)" if answer.text == self.sms.welcome() else (
                f"{answer.callback or 'no answer'}" if answer.text is None else answer.text[:40])
            return Outcome(case, False, got)
        return Outcome(case, lang in case.langs and self._topic_ok(case.topic, node),
                       f"{lang}:{node}")

    def _topic_ok(self, expected: str, node: str) -> bool:
        if expected == "any":
            return True
        if expected == "help":
            return node == self.sms.voice.start
        nodes = self.sms.voice.nodes
        while node in nodes:
            if node == expected:
                return True
            node = nodes[node].parent or ""
        return node == expected


def evaluate(sms: SmsContent, cases: Iterable[Case]) -> list[Outcome]:
    """Every case answered and judged."""
    judge = Judge(sms)
    return [judge.outcome(case) for case in cases]


def rates(outcomes: list[Outcome]) -> dict[str, tuple[int, int]]:
    """(right, total) per language (a case's first expected language) and under "all"."""
    out: dict[str, tuple[int, int]] = {}
    for outcome in outcomes:
        for key in (outcome.case.langs[0], "all"):
            right, total = out.get(key, (0, 0))
            out[key] = (right + outcome.ok, total + 1)
    return out


def rate_table(outcomes: list[Outcome], languages: Iterable[str]) -> str:
    """One line: the rate overall and per language, e.g. "all 92% (147/160)  fr 93% (27/29)"."""
    counts = rates(outcomes)
    cells = []
    for key in ("all", *languages):
        if key in counts:
            right, total = counts[key]
            cells.append(f"{key} {100 * right / total:.0f}% ({right}/{total})")
    return "  ".join(cells)


def misses(outcomes: list[Outcome]) -> list[str]:
    """A line per wrong answer: the message, what was expected, what came."""
    return [f"{o.case.line:>4}  {o.case.message!r}: want {'/'.join(o.case.langs)}:{o.case.topic},"
            f" got {o.got}" for o in outcomes if not o.ok]
