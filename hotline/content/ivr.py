"""Load and validate the voice content: `ivr_scripts/menu.yaml` and `ivr_scripts/<lang>.yaml`.

`load_content(root)` returns a `Content` or raises `ContentError` listing every problem, each
naming the file and the key, so a broken file stops start-up with a message a CSO can act on.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

from hotline.content.files import (
    STATUSES,
    Checker,
    ContentError,
    Problem,
    fill,
    language_file,
    placeholders,
    read_yaml,
    relative_name,
)
from hotline.content.reviews import (
    REVIEWED,
    VOICE,
    TextReview,
    read_ledger,
    review_states,
    status_claims,
)

LANGUAGE_MENU = "languages"  # reserved position: the language menu, before a language is chosen
LANGUAGE_MORE = "languages_more"  # reserved position: its second page ("other languages")
LANGUAGE_MENUS = (LANGUAGE_MENU, LANGUAGE_MORE)
MORE_KEY = "9"  # on the first page of the language menu: the second page, when there is one
HINT_KEY = "0"  # on the first page: the second-page language the caller's country code hints
ACTIONS = frozenset({"repeat", "details", "back", "main", "language", "sms"})
KEYPAD = frozenset("0123456789*#")
NODE_TYPES = frozenset({"menu", "info", "callback"})
MAX_LANGUAGES = 9  # keys 1-9 of one page; with a second page, 1-8 (MORE_KEY opens it)
# Prompts the engine itself speaks, whatever the menu holds.
SYSTEM_PROMPTS = (
    "key_star", "key_hash", "language_option", "welcome", "welcome_back", "headline",
    "press_any_time", "invalid", "no_input", "goodbye", "sms_sent", "sms_unavailable",
    "code_prompt", "code_unknown",
)
CODE_KEY = "#"  # pressed at any menu: the caller types an item's two-digit code next
RESERVED_CODE = "00"  # opens recording by phone for editors (hotline.engine.recording)
CODE_DIGITS = 2
# Prompts of the callback flow, required when the menu has a callback node.
CALLBACK_PROMPTS = (
    "cb_intro", "cb_closed", "cb_confirm_number", "opt_confirm", "opt_other_number",
    "cb_enter_number", "cb_bad_number", "cb_topic", "cb_message", "cb_done", "cb_joined",
    "cb_when_open", "cb_when_later", "cb_sms_follows", "opt_repeat_ref", "cb_unavailable",
    *(f"day_{i}" for i in range(7)),
)
# Values filled in at run time, and the prompts that may use them ({digit}: option prompts).
RUNTIME_PLACEHOLDERS = {
    "number": {"cb_confirm_number"},
    "ref": {"cb_done", "cb_joined"},
    "day": {"cb_closed", "cb_when_later"},
    "time": {"cb_closed", "cb_when_later"},
}
CALLBACK_OPTION_PROMPTS = ("opt_confirm", "opt_other_number", "opt_repeat_ref")
_UNREVIEWED = TextReview("draft", ("language",), (), ())


@dataclass(frozen=True)
class Source:
    title: str
    url: str


@dataclass(frozen=True)
class Option:
    """A keypad choice: `digit` leads to node `goto` or does `action`; `prompt` announces it."""

    digit: str
    prompt: str
    goto: str | None = None
    action: str | None = None
    topic: str | None = None


@dataclass(frozen=True)
class Node:
    """A menu (intro + options), an information item (prompt + sources), or a callback request
    (its `options` are the topics a caller can choose)."""

    name: str
    type: str
    prompt: str | None = None  # info: the item's text; menu: the intro, if any
    options: tuple[Option, ...] = ()
    sources: tuple[Source, ...] = ()
    checked_on: dt.date | None = None
    unverified: str | None = None
    facts: str | None = None  # info: the fact sheet's section the item rests on (e.g. "§3b")
    parent: str | None = None
    code: str | None = None  # info: the shortcut typed after CODE_KEY, from any menu
    details: str | None = None  # info: the prompt heard with the `details` action


@dataclass(frozen=True)
class Language:
    """The spoken prompts of one language, with their review status (derived from the review
    ledger: `prompt_status` is reviewed, stale or draft; `status` is reviewed when every prompt
    is)."""

    code: str
    name: str
    status: str
    say_language: str | None
    say_voice: str | None
    prompts: dict[str, str]
    prompt_status: dict[str, str]
    file: str
    pronounce: dict[str, str] = field(default_factory=dict)  # written form -> how a voice says it
    reviews: dict[str, TextReview] = field(default_factory=dict)


@dataclass(frozen=True)
class Content:
    """Everything the engine needs: the menu tree and the prompts of every offered language."""

    root: Path
    languages: dict[str, Language]
    nodes: dict[str, Node]
    start: str
    retries: int
    values: dict[str, str]
    item_options: tuple[Option, ...]
    warnings: tuple[str, ...] = field(default=())
    # country code -> its languages, most likely first
    language_hints: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # the language menu's pages, each a tuple of codes keyed 1, 2, ... (all of `languages`)
    language_pages: tuple[tuple[str, ...], ...] = ()
    option_prompts: frozenset[str] = frozenset()  # the keys of "topic: key" lines (menus)

    def text(self, lang: str, key: str, **runtime: str) -> str:
        """The prompt `key` in `lang`, placeholders filled in."""
        return fill(self.languages[lang].prompts[key], {**self.values, **runtime})

    def speech(self, lang: str, text: str) -> str:
        """`text` as a voice of `lang` should read it: the language's `pronounce` respellings
        applied to whole words (never to SMS)."""
        for written, spoken in self.languages[lang].pronounce.items():
            pattern = re.compile(rf"(?<!\w){re.escape(written)}(?!\w)")
            text = pattern.sub(spoken.replace("\\", r"\\"), text)
        return text

    def options_of(self, node: Node) -> tuple[Option, ...]:
        """The keypad choices offered at `node`: a callback node offers its topics, an item the
        item options (the details option only when it has details)."""
        if node.type == "info":
            return tuple(o for o in self.item_options if o.action != "details" or node.details)
        return node.options

    def item_by_code(self, code: str) -> Node | None:
        """The information item whose shortcut is `code`, if any."""
        return next((n for n in self.nodes.values() if n.code and n.code == code), None)

    def hinted_language(self, number: str | None) -> str | None:
        """The language a caller's country code makes likeliest, if any."""
        return next(iter(self.hinted_languages(number)), None)

    def hinted_languages(self, number: str | None) -> tuple[str, ...]:
        """The languages a caller's country code makes likely, most likely first (the longest
        prefix of the E.164 number that has hints)."""
        digits = (number or "").lstrip("+")
        for prefix in self._hint_prefixes:
            if digits.startswith(prefix):
                return tuple(c for c in self.language_hints[prefix] if c in self.languages)
        return ()

    @cached_property
    def derived(self) -> dict[tuple[str, ...], Any]:
        """What the engine derives from this content alone (a prompt ready to speak, a menu's
        lines), kept with it: worked out at the first call that needs it, not on every one.
        Bounded by the content (languages × prompts and menus); a reload starts afresh."""
        return {}

    @cached_property
    def _hint_prefixes(self) -> tuple[str, ...]:
        """The hinted country codes, longest first: sorted once, not per call."""
        return tuple(sorted(self.language_hints, key=len, reverse=True))

    def pages(self) -> tuple[tuple[str, ...], ...]:
        """The language menu's pages (one page of every language when none were set)."""
        return self.language_pages or (tuple(self.languages),)

    def language_key(self, code: str) -> tuple[int, str]:
        """Where `code` is on the language menu: (page, 0 for the first; its key there)."""
        for page, codes in enumerate(self.pages()):
            if code in codes:
                return page, str(codes.index(code) + 1)
        raise KeyError(code)

    def fact_prompts(self) -> set[str]:
        """The prompts that state facts (an information item's text and details): their review
        needs a legal reviewer too."""
        return {k for n in self.nodes.values() if n.type == "info" for k in (n.prompt, n.details)
                if k}

    def required_prompts(self) -> set[str]:
        """Every prompt key a complete language must have."""
        keys = set(SYSTEM_PROMPTS)
        if any(node.type == "callback" for node in self.nodes.values()):
            keys.update(CALLBACK_PROMPTS)
        for option in self.item_options:
            keys.add(option.prompt)
        for node in self.nodes.values():
            keys.update(k for k in (node.prompt, node.details) if k)
            keys.update(option.prompt for option in node.options)
        return keys


def load_content(root: Path | str) -> Content:
    """Read and validate `root/ivr_scripts`; raise ContentError naming every problem."""
    root = Path(root)
    problems: list[Problem] = []
    warnings: list[str] = []
    menu_file = root / "ivr_scripts" / "menu.yaml"
    menu = read_yaml(menu_file, root, problems)
    if menu is None:
        raise ContentError(problems)
    menu_name = relative_name(menu_file, root)
    check = Checker(menu_name, problems)

    codes = menu.get("languages")
    more = menu.get("more_languages") or []
    if not isinstance(codes, list) or not codes or not all(isinstance(c, str) for c in codes):
        check.fail("languages", "must be a non-empty list of language codes")
        codes = []
    elif len(codes) > MAX_LANGUAGES - (1 if more else 0):
        check.fail("languages", f"at most {MAX_LANGUAGES} languages fit on one keypad menu "
                   f"({MAX_LANGUAGES - 1} with more_languages: key {MORE_KEY} opens them)")
    if not isinstance(more, list) or not all(isinstance(c, str) for c in more):
        check.fail("more_languages", "must be a list of language codes (the second page)")
        more = []
    elif len(more) > MAX_LANGUAGES - 1:
        check.fail("more_languages", f"at most {MAX_LANGUAGES - 1} languages on the second page")
    pages = (tuple(codes), tuple(more)) if more else ()
    codes = [*codes, *more]
    if len(set(codes)) != len(codes):
        check.fail("languages", "a language is listed twice")
    values = {str(k): str(v) for k, v in (menu.get("values") or {}).items()}
    retries = menu.get("retries", 2)
    if not isinstance(retries, int) or not 0 <= retries <= 5:
        check.fail("retries", "must be a whole number from 0 to 5")
        retries = 2

    raw_nodes = menu.get("nodes")
    if not isinstance(raw_nodes, dict) or not raw_nodes:
        check.fail("nodes", "must map node names to nodes")
        raw_nodes = {}
    nodes = {name: _node(name, raw, check) for name, raw in raw_nodes.items()}
    item_options = _options("item_options", menu.get("item_options"), check)
    if not item_options:
        check.fail("item_options", "must list the choices offered after an information item")
    start = str(menu.get("start") or "")
    if start not in nodes:
        check.fail("start", f"names no node: {start!r}")
    for reserved in LANGUAGE_MENUS:
        if reserved in nodes:
            check.fail(f"nodes.{reserved}", "this name is reserved for the language menu")

    for name, node in nodes.items():
        for i, option in enumerate(node.options):
            if option.goto is not None and option.goto not in nodes:
                check.fail(f"nodes.{name}.options[{i}]", f"goto leads nowhere: {option.goto!r}")
            if option.topic is not None and option.topic != "other" and option.topic not in nodes:
                check.fail(f"nodes.{name}.topics[{i}]", f"topic names no node: {option.topic!r}")
    for name, node in nodes.items():
        for i, option in enumerate(node.options):
            if option.action == "sms":
                check.fail(f"nodes.{name}.options[{i}]", "action sms belongs in item_options")
    for i, option in enumerate(item_options):
        if option.goto is not None and option.goto not in nodes:
            check.fail(f"item_options[{i}]", f"goto leads nowhere: {option.goto!r}")

    seen_codes: dict[str, str] = {}
    for name, node in nodes.items():
        if node.code is None:
            continue
        if len(node.code) != CODE_DIGITS or not node.code.isdigit() or not node.code.isascii():
            check.fail(f"nodes.{name}.code", f"must be {CODE_DIGITS} digits, not {node.code!r}")
        elif node.code == RESERVED_CODE:
            check.fail(f"nodes.{name}.code", f"{RESERVED_CODE} opens recording by phone")
        elif node.code in seen_codes:
            check.fail(f"nodes.{name}.code", f"{node.code} is already the code of "
                       f"{seen_codes[node.code]}")
        seen_codes[node.code] = name
    hints = menu.get("language_hints") or {}
    if not isinstance(hints, dict):
        check.fail("language_hints", "must map country calling codes to languages")
        hints = {}
    hinted: dict[str, tuple[str, ...]] = {}
    for key, value in hints.items():
        prefix, langs = str(key), [str(v) for v in (value if isinstance(value, list) else [value])]
        if not prefix.isdigit():
            check.fail(f"language_hints.{prefix}", "must be a country calling code (digits)")
            continue
        for code in langs:
            if code not in codes:
                warnings.append(f"{menu_name}: language_hints.{prefix}: {code} is not offered")
        if any(code in codes for code in langs):
            hinted[prefix] = tuple(code for code in langs if code in codes)

    if start in nodes and not problems:
        nodes = _with_parents(nodes, start, item_options)
        unreachable = sorted(n for n, node in nodes.items() if node.parent is None and n != start)
        warnings.extend(f"{menu_name}: nodes.{n}: no menu leads here" for n in unreachable)

    content = Content(
        root=root, languages={}, nodes=nodes, start=start, retries=retries,
        values=values, item_options=item_options,
    )
    option_prompts = {o.prompt for n in nodes.values() for o in n.options}
    option_prompts |= {o.prompt for o in item_options} | {"language_option"}
    option_prompts |= set(CALLBACK_OPTION_PROMPTS)
    required = content.required_prompts()
    facts = content.fact_prompts()
    languages = {}
    for code in codes:
        lang = _language(root, code, required, option_prompts, facts, values, problems, warnings)
        if lang is not None:
            languages[code] = lang
    if problems:
        raise ContentError(problems)
    return Content(
        root=root, languages=languages, nodes=nodes, start=start, retries=retries,
        values=values, item_options=item_options, warnings=tuple(warnings),
        language_hints=hinted, language_pages=pages, option_prompts=frozenset(option_prompts),
    )


def _options(where: str, raw: Any, check: Checker) -> tuple[Option, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        check.fail(where, "must be a list of options")
        return ()
    options: list[Option] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        key = f"{where}[{i}]"
        if not isinstance(item, dict):
            check.fail(key, "must be a mapping with digit, prompt and goto or action")
            continue
        digit = str(item.get("digit", ""))
        if digit not in KEYPAD:
            check.fail(key, f"digit must be one keypad key (0-9, * or #), not {digit!r}")
        elif digit in seen:
            check.fail(key, f"digit {digit} is used twice in this menu")
        seen.add(digit)
        goto, action, topic = item.get("goto"), item.get("action"), item.get("topic")
        if sum(x is not None for x in (goto, action, topic)) != 1:
            check.fail(key, "needs exactly one of goto, action or topic")
        if action is not None and action not in ACTIONS:
            check.fail(key, f"unknown action {action!r} (known: {', '.join(sorted(ACTIONS))})")
        prompt = item.get("prompt")
        if not isinstance(prompt, str) or not prompt:
            check.fail(key, "needs a prompt key")
            prompt = ""
        options.append(Option(digit=digit, prompt=prompt, goto=goto, action=action, topic=topic))
    return tuple(options)


def _node(name: str, raw: Any, check: Checker) -> Node:
    key = f"nodes.{name}"
    if not isinstance(raw, dict):
        check.fail(key, "must be a mapping")
        return Node(name=name, type="menu")
    kind = raw.get("type")
    if kind not in NODE_TYPES:
        check.fail(f"{key}.type", f"must be menu or info, not {kind!r}")
    if kind == "info":
        prompt = raw.get("prompt")
        if not isinstance(prompt, str) or not prompt:
            check.fail(f"{key}.prompt", "an information item needs a prompt key")
        checked_on = raw.get("checked_on")
        if not isinstance(checked_on, dt.date):
            check.fail(f"{key}.checked_on", "needs the date the facts were checked (YYYY-MM-DD)")
            checked_on = None
        sources = _sources(f"{key}.sources", raw.get("sources"), check)
        code, details = raw.get("code"), raw.get("details")
        if details is not None and (not isinstance(details, str) or not details):
            check.fail(f"{key}.details", "names the prompt key of the item's details")
            details = None
        facts = raw.get("facts")
        if facts is not None and (not isinstance(facts, str) or not facts.strip()):
            check.fail(f"{key}.facts", "names the fact sheet's section, e.g. \"§3b\"")
            facts = None
        return Node(
            name=name, type="info", prompt=prompt, sources=sources, checked_on=checked_on,
            unverified=raw.get("unverified"), code=str(code) if code is not None else None,
            details=details, facts=facts,
        )
    if kind == "callback":
        topics = _options(f"{key}.topics", raw.get("topics"), check)
        for i, topic in enumerate(topics):
            if topic.topic is None:
                check.fail(f"{key}.topics[{i}]", "a callback node lists topics, not goto/action")
        if not topics:
            check.fail(f"{key}.topics", "a callback node needs at least one topic")
        return Node(name=name, type="callback", options=topics)
    options = _options(f"{key}.options", raw.get("options"), check)
    if kind == "menu" and not options:
        check.fail(f"{key}.options", "a menu needs at least one option")
    for i, option in enumerate(options):
        if option.topic is not None:
            check.fail(f"{key}.options[{i}]", "topic belongs in a callback node's topics")
    return Node(name=name, type="menu", prompt=raw.get("intro"), options=options)


def _sources(key: str, raw: Any, check: Checker) -> tuple[Source, ...]:
    if not isinstance(raw, list) or not raw:
        check.fail(key, "an information item needs at least one source (title and url)")
        return ()
    sources = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or not item.get("title") or not item.get("url"):
            check.fail(f"{key}[{i}]", "a source needs a title and a url")
            continue
        sources.append(Source(title=str(item["title"]), url=str(item["url"])))
    return tuple(sources)


def _with_parents(
    nodes: dict[str, Node], start: str, item_options: tuple[Option, ...]
) -> dict[str, Node]:
    """Give each node the first menu that leads to it, breadth first from `start` ("back")."""
    parents: dict[str, str] = {}
    queue = [start]
    while queue:
        name = queue.pop(0)
        node = nodes[name]
        for option in node.options if node.type != "info" else item_options:
            if option.goto and option.goto != start and option.goto not in parents:
                parents[option.goto] = name
                queue.append(option.goto)
    return {name: replace(node, parent=parents.get(name)) for name, node in nodes.items()}


def _language(
    root: Path,
    code: str,
    required: set[str],
    option_prompts: set[str],
    facts: set[str],
    values: dict[str, str],
    problems: list[Problem],
    warnings: list[str],
) -> Language | None:
    found = language_file(root / "ivr_scripts" / f"{code}.yaml", root, code, problems)
    if found is None:
        return None
    data, check = found
    status = data.get("status", "draft")
    say = data.get("twilio_say") or {}
    if not isinstance(say, dict):
        check.fail("twilio_say", "must be a mapping with language and voice, or be left out")
        say = {}
    raw = data.get("prompts")
    if not isinstance(raw, dict):
        check.fail("prompts", "must map prompt keys to spoken text")
        return None

    prompts: dict[str, str] = {}
    claimed: dict[str, str] = {}
    for key, value in raw.items():
        text, own_status = (value.get("text"), value.get("status", "draft")) if isinstance(
            value, dict) else (value, None)
        if not isinstance(text, str) or not text.strip():
            check.fail(f"prompts.{key}", "must be non-empty text")
            continue
        if own_status is not None and own_status not in STATUSES:
            check.fail(f"prompts.{key}.status", "must be draft or reviewed")
        try:
            names = placeholders(text)
        except ValueError as exc:
            check.fail(f"prompts.{key}", f"malformed placeholder ({exc}); write {{{{ for a brace")
            continue
        allowed = set(values) | {name for name, keys in RUNTIME_PLACEHOLDERS.items() if key in keys}
        if key in option_prompts:
            allowed.add("digit")
        for name in names:
            if name not in allowed:
                check.fail(f"prompts.{key}", f"unknown placeholder {{{name}}}")
        if key in option_prompts and "digit" not in names:
            check.fail(f"prompts.{key}", "an option prompt must say its key: add {digit}")
        prompts[str(key)] = " ".join(text.split())
        if own_status is not None:
            claimed[str(key)] = str(own_status)
    for key in sorted(required - set(raw)):
        check.fail(f"prompts.{key}", "missing")
    for key in sorted(set(raw) - required):
        warnings.append(f"{check.file}: prompts.{key}: not used by the menu")
    reviews = review_states(prompts, read_ledger(root, VOICE, code, problems), facts)
    warnings.extend(status_claims(check.file, "prompts", status, claimed, reviews))
    pronounce = data.get("pronounce") or {}
    if not isinstance(pronounce, dict) or not all(
            isinstance(v, str) and v.strip() for v in pronounce.values()):
        check.fail("pronounce", "must map written words to how a voice should say them")
        pronounce = {}
    return Language(
        pronounce={str(k): str(v) for k, v in pronounce.items()},
        code=code,
        name=str(data.get("name") or code),
        status=REVIEWED if all(reviews.get(k, _UNREVIEWED).state == REVIEWED
                               for k in required) else "draft",
        say_language=say.get("language"),
        say_voice=say.get("voice"),
        prompts=prompts,
        prompt_status={key: review.state for key, review in reviews.items()},
        file=check.file,
        reviews=reviews,
    )
