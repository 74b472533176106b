"""Load and validate the SMS content: `sms_templates/keywords.yaml` and `sms_templates/<lang>.yaml`.

Each language file has a short `label` for every node of the voice menu but the start, a text for
every information item, and the system texts below. Every text, and every numbered menu as it is
assembled, must fit its budget: 2 segments for a GSM-7 language (where a character that would
switch the message to UCS-2 is an error, named with its alternative), 3 for a UCS-2 language.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from hotline.content.files import (
    Checker,
    ContentError,
    Problem,
    fill,
    language_file,
    placeholders,
    read_yaml,
    relative_name,
)
from hotline.content.ivr import LANGUAGE_MENU, Content
from hotline.content.keywords import KeywordIndex
from hotline.content.lexicon import Lexicon, load_lexicon, topic_names
from hotline.content.reviews import (
    REVIEWED,
    SMS,
    TextReview,
    read_ledger,
    review_states,
    status_claims,
)
from hotline.content.segments import Cost, cost, ucs2_culprits
from hotline.content.writing import LatinLanguageId, WritingProfile, latin_language_id

SYSTEM_TEXTS = ("menu_header", "menu_footer", "language_set", "stop_confirm",
                "start_confirm", "item_code")
CALLBACK_TEXTS = ("cb_created", "cb_joined", "cb_cancelled", "cb_none", "cb_unreachable",
                  "cb_failed", "forget_confirm")
# Texts that name a value filled in when sent, and a sample used to count their cost.
PLACEHOLDERS = {"cb_created": "ref", "cb_joined": "ref", "cb_cancelled": "ref",
                "cb_unreachable": "ref", "item_code": "code"}
SAMPLES = {"ref": "123456", "code": "21"}
COMMANDS = frozenset({"help", "language", "stop", "start", "cancel", "forget"})
BUDGETS = {"gsm7": 2, "ucs2": 3}
MAX_LABEL = 28


@dataclass(frozen=True)
class SmsLanguage:
    """One language's SMS labels and texts; `reviews` holds each one's review state (from the
    review ledger) under `texts.<name>` and `labels.<name>`; `status` is reviewed when all are."""

    code: str
    name: str
    status: str
    alphabet: str
    labels: dict[str, str]
    texts: dict[str, str]
    file: str
    reviews: dict[str, TextReview] = field(default_factory=dict)

    def keyed_texts(self) -> dict[str, str]:
        """Every text and label under the key its reviews use: `texts.<name>`, `labels.<name>`."""
        return {**{f"labels.{k}": v for k, v in self.labels.items()},
                **{f"texts.{k}": v for k, v in self.texts.items()}}


@dataclass(frozen=True)
class SmsContent:
    """SMS texts of every language, the keyword index, the lexicon of free text, how each
    language is written, and the voice menu they mirror."""

    voice: Content
    languages: dict[str, SmsLanguage]
    keywords: KeywordIndex
    lexicon: Lexicon
    writing: WritingProfile
    latin_id: LatinLanguageId | None
    warnings: tuple[str, ...] = ()

    def menu(self, lang: str, node_name: str) -> str:
        """The numbered menu of `node_name` (a menu node) in `lang`."""
        sms = self.languages[lang]
        node = self.voice.nodes[node_name]
        lines = [sms.texts["menu_header"]]
        lines += [f"{o.digit} {sms.labels[o.goto]}" for o in node.options if o.goto]
        lines.append(sms.texts["menu_footer"])
        return "\n".join(lines)

    def language_menu(self, codes: tuple[str, ...] = ()) -> str:
        """Every language (or those of `codes`) by its number, each named in itself."""
        shown = [self.languages[c] for c in codes] if codes else self.languages.values()
        return "\n".join(f"{i} {sms.name}" for i, sms in enumerate(shown, 1))

    def welcome(self) -> str:
        """The first-contact text when nothing tells the language: the numbered language menu,
        each language named in itself, so that a reply of one digit works on any phone."""
        return self.language_menu()

    def all_texts(self) -> dict[tuple[str, str], str]:
        """Every SMS the service can send, by (language, name), menus included."""
        out: dict[tuple[str, str], str] = {}
        for code, sms in self.languages.items():
            for name, node in self.voice.nodes.items():
                if node.type == "callback":
                    continue
                out[(code, f"menu:{name}" if node.type == "menu" else name)] = (
                    self.menu(code, name) if node.type == "menu" else self.item(code, name))
            for name in (*SYSTEM_TEXTS[2:], *(n for n in CALLBACK_TEXTS if n in sms.texts)):
                if name == "item_code":
                    continue
                out[(code, name)] = self.text(code, name, **SAMPLES)
        out[("*", "welcome")] = self.welcome()
        out[("*", LANGUAGE_MENU)] = self.language_menu()
        return out

    def item(self, lang: str, name: str) -> str:
        """The SMS of information item `name` in `lang`, ending with its shortcut code on the
        voice line (so a poster or a friend can send someone straight to it)."""
        text = self.languages[lang].texts[name]
        code = self.voice.nodes[name].code
        return f"{text} {self.text(lang, 'item_code', code=code)}" if code else text

    def text(self, lang: str, name: str, **values: str) -> str:
        """The text `name` in `lang`, its placeholder (if any) filled with `values`."""
        return fill(self.languages[lang].texts[name], values)

    def budget(self, lang: str) -> int:
        """The most segments one SMS in `lang` may cost."""
        return BUDGETS[self.languages[lang].alphabet] if lang in self.languages else 3


def load_sms_content(voice: Content) -> SmsContent:
    """Read and validate `sms_templates/` against the voice menu; raise ContentError if broken."""
    root: Path = voice.root
    problems: list[Problem] = []
    keywords_file = root / "sms_templates" / "keywords.yaml"
    raw = read_yaml(keywords_file, root, problems) or {}
    check = Checker(relative_name(keywords_file, root), problems)
    table = raw.get("keywords")
    if not isinstance(table, dict):
        check.fail("keywords", "must map targets to languages to lists of words")
        table = {}
    for target, by_lang in table.items():
        if target not in COMMANDS and target not in voice.nodes:
            check.fail(f"keywords.{target}", "is neither a menu node nor help/language/stop/start")
        if not isinstance(by_lang, dict):
            check.fail(f"keywords.{target}", "must map language codes to lists of words")
            continue
        for lang, spellings in by_lang.items():
            if lang not in voice.languages:
                check.fail(f"keywords.{target}.{lang}", "is not a language of the menu")
            if not isinstance(spellings, list) or not spellings:
                check.fail(f"keywords.{target}.{lang}", "must be a list of words")
    clean = {t: {lang: list(w) for lang, w in v.items() if isinstance(w, list)}
             for t, v in table.items() if isinstance(v, dict)}
    index = KeywordIndex(clean)
    for clash in index.clashes:
        check.fail("keywords", clash)
    for command in ("help", "stop", "start"):
        missing = set(voice.languages) - set(clean.get(command, {}))
        if missing:
            check.fail(f"keywords.{command}", f"no word for {', '.join(sorted(missing))}")
    precedence = raw.get("precedence", [])
    if not isinstance(precedence, list):
        check.fail("precedence", "must be a list of topics, the one that wins first")
        precedence = []
    for topic in precedence:
        if topic not in topic_names(voice):
            check.fail(f"precedence.{topic}", "is neither a menu node nor help")
    lexicon = load_lexicon(voice, clean, [str(t) for t in precedence], problems)

    languages = {}
    warnings: list[str] = []
    for code in voice.languages:
        sms = _language(root, code, voice, problems, warnings)
        if sms is not None:
            languages[code] = sms
    writing = WritingProfile.learn({code: sms.texts.values() for code, sms in languages.items()})
    latin = tuple(code for code in languages if writing.scripts[code] == "latin")
    content = SmsContent(voice=voice, languages=languages, keywords=index, lexicon=lexicon,
                         writing=writing, latin_id=latin_language_id(latin) if latin else None,
                         warnings=tuple(warnings))
    if not problems:
        for (lang, name), text in content.all_texts().items():
            _check_cost(content, lang, name, text, problems)
    if problems:
        raise ContentError(problems)
    return content


def _language(root: Path, code: str, voice: Content, problems: list[Problem],
              warnings: list[str]) -> SmsLanguage | None:
    found = language_file(root / "sms_templates" / f"{code}.yaml", root, code, problems)
    if found is None:
        return None
    data, check = found
    alphabet = data.get("alphabet")
    if alphabet not in BUDGETS:
        check.fail("alphabet", "must be gsm7 or ucs2")
        alphabet = "ucs2"
    labels = _strings(data.get("labels"), "labels", check)
    texts = _strings(data.get("texts"), "texts", check)
    for name, node in voice.nodes.items():
        if name != voice.start and name not in labels:
            check.fail(f"labels.{name}", "missing")
        if node.type == "info" and name not in texts:
            check.fail(f"texts.{name}", "missing")
    needed = list(SYSTEM_TEXTS)
    if any(node.type == "callback" for node in voice.nodes.values()):
        needed += CALLBACK_TEXTS
    for name in needed:
        if name not in texts:
            check.fail(f"texts.{name}", "missing")
    for name, label in labels.items():
        if len(label) > MAX_LABEL:
            check.fail(f"labels.{name}", f"{len(label)} characters; at most {MAX_LABEL}")
    for section, strings in (("texts", texts), ("labels", labels)):
        for name, text in strings.items():
            allowed = PLACEHOLDERS.get(name) if section == "texts" else None
            try:
                names = placeholders(text)
            except ValueError as exc:
                check.fail(f"{section}.{name}",
                           f"malformed placeholder ({exc}); write {{{{ for a brace")
                continue
            if any(n != allowed for n in names):
                hint = f"only {{{allowed}}} here" if allowed else "write the value"
                check.fail(f"{section}.{name}", f"unknown placeholder: {hint}")
    sms = SmsLanguage(code=code, name=voice.languages[code].name, status="draft",
                      alphabet=str(alphabet), labels=labels, texts=texts, file=check.file)
    facts = {f"texts.{name}" for name, node in voice.nodes.items() if node.type == "info"}
    reviews = review_states(sms.keyed_texts(), read_ledger(root, SMS, code, problems), facts)
    warnings.extend(status_claims(check.file, "texts", data.get("status"), {}, reviews))
    status = REVIEWED if all(r.state == REVIEWED for r in reviews.values()) else "draft"
    return replace(sms, status=status, reviews=reviews)


def _strings(raw: object, key: str, check: Checker) -> dict[str, str]:
    if not isinstance(raw, dict):
        check.fail(key, "must map names to text")
        return {}
    out = {}
    for name, text in raw.items():
        if not isinstance(text, str) or not text.strip():
            check.fail(f"{key}.{name}", "must be non-empty text")
            continue
        out[str(name)] = text.strip()
    return out


def _check_cost(content: SmsContent, lang: str, name: str, text: str,
                problems: list[Problem]) -> Cost:
    price = cost(text)
    file = content.languages[lang].file if lang in content.languages else "sms_templates"
    if lang in content.languages and content.languages[lang].alphabet == "gsm7":
        for char, alternative in ucs2_culprits(text).items():
            hint = f"; write {alternative!r} instead" if alternative else ""
            problems.append(Problem(file, f"texts.{name}",
                                    f"{char!r} switches the SMS to UCS-2 (double cost){hint}"))
    if price.segments > content.budget(lang):
        problems.append(Problem(file, f"texts.{name}", f"{price.segments} segments "
                                f"({price.units} {price.encoding} units); the budget is "
                                f"{content.budget(lang)}"))
    return price
