"""Which engine speaks which language: `ivr_scripts/audio.yaml`, validated like the content files.

    engines: [gtts, espeak-ng]         # the order every language tries; first that speaks it wins
    languages: {ps: [], fa: [espeak-ng]}   # a language's own order, when it differs ([] = none)
    gtts: {tld: com, interval: 1.0, attempts: 4, backoff: 1.0, timeout: 20,
           languages: {fr: fr}}        # our code -> gTTS's code, when they differ
    espeak-ng: {rate: 150, menu_rate: 175,           # words a minute (menus: "topic: key" lines)
                languages: {fr: fr-be}}              # our code -> espeak-ng voice

Everything is optional; without the file every language tries gTTS, then espeak-ng.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hotline.audio.engines import Engine, EspeakEngine, GttsEngine, Throttle
from hotline.content.files import Checker, ContentError, Problem, read_yaml, relative_name

CONFIG_FILE = Path("ivr_scripts") / "audio.yaml"
ENGINES = ("gtts", "espeak-ng")
DEFAULT_ORDER = ("gtts", "espeak-ng")
GTTS_NUMBERS = {"interval": 1.0, "attempts": 4, "backoff": 1.0, "timeout": 20.0}


@dataclass(frozen=True)
class AudioConfig:
    """Engine order per language and each engine's settings (plain data: RQ jobs carry it)."""

    order: tuple[str, ...] = DEFAULT_ORDER
    language_order: dict[str, tuple[str, ...]] = field(default_factory=dict)
    gtts: dict[str, Any] = field(default_factory=dict)
    espeak: dict[str, Any] = field(default_factory=dict)

    def order_for(self, lang: str) -> tuple[str, ...]:
        """The engines `lang` tries, best first."""
        return self.language_order.get(lang, self.order)


def load_audio_config(root: Path | str) -> AudioConfig:
    """`root/ivr_scripts/audio.yaml`, or the defaults without it; raises ContentError."""
    root = Path(root)
    path = root / CONFIG_FILE
    if not path.exists():
        return AudioConfig()
    problems: list[Problem] = []
    data = read_yaml(path, root, problems)
    if data is None:
        raise ContentError(problems)
    check = Checker(relative_name(path, root), problems)
    for key in sorted(set(data) - {"engines", "languages", "gtts", "espeak-ng"}):
        check.fail(key, "unknown setting (known: engines, languages, gtts, espeak-ng)")
    order = _order("engines", data.get("engines", list(DEFAULT_ORDER)), check)
    language_order = {}
    raw_languages = data.get("languages") or {}
    if not isinstance(raw_languages, dict):
        check.fail("languages", "must map language codes to a list of engines")
        raw_languages = {}
    for code, engines in raw_languages.items():
        language_order[str(code)] = _order(f"languages.{code}", engines or [], check)
    gtts = _section("gtts", data.get("gtts"), {"tld", "languages", *GTTS_NUMBERS}, check)
    for key in GTTS_NUMBERS:
        if key in gtts and (not isinstance(gtts[key], int | float) or gtts[key] < 0):
            check.fail(f"gtts.{key}", "must be a number, 0 or more")
    espeak = _section("espeak-ng", data.get("espeak-ng"), {"rate", "menu_rate", "languages"},
                      check)
    for key in ("rate", "menu_rate"):
        rate = espeak.get(key, 150)
        if not isinstance(rate, int) or not 80 <= rate <= 450:
            check.fail(f"espeak-ng.{key}", "must be words per minute, from 80 to 450")
    if problems:
        raise ContentError(problems)
    return AudioConfig(order, language_order, gtts, espeak)


def make_engines(config: AudioConfig, state_dir: Path) -> dict[str, Engine]:
    """One engine of each kind; the gTTS throttle is shared through a file in `state_dir`."""
    gtts = {**GTTS_NUMBERS, **config.gtts}
    return {
        "gtts": GttsEngine(
            gtts.get("languages"), tld=str(gtts.get("tld", "com")),
            throttle=Throttle(state_dir / ".gtts-throttle", float(gtts["interval"])),
            attempts=int(gtts["attempts"]), backoff=float(gtts["backoff"]),
            timeout=float(gtts["timeout"]),
        ),
        "espeak-ng": EspeakEngine(config.espeak.get("languages"),
                                  int(config.espeak.get("rate", 150)),
                                  config.espeak.get("menu_rate")),
    }


def _order(key: str, raw: Any, check: Checker) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(e, str) for e in raw):
        check.fail(key, f"must be a list of engines ({', '.join(ENGINES)})")
        return ()
    for name in raw:
        if name not in ENGINES:
            check.fail(key, f"unknown engine {name!r} (known: {', '.join(ENGINES)})")
    if len(set(raw)) != len(raw):
        check.fail(key, "an engine is listed twice")
    return tuple(raw)


def _section(key: str, raw: Any, known: set[str], check: Checker) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        check.fail(key, "must be a mapping of settings")
        return {}
    for name in sorted(set(raw) - known):
        check.fail(f"{key}.{name}", f"unknown setting (known: {', '.join(sorted(known))})")
    languages = raw.get("languages")
    if languages is not None and not (
        isinstance(languages, dict) and all(isinstance(v, str) for v in languages.values())
    ):
        check.fail(f"{key}.languages", "must map language codes to the engine's voice or code")
        raw = {k: v for k, v in raw.items() if k != "languages"}
    if isinstance(raw.get("languages"), dict):
        raw = {**raw, "languages": {str(k): v for k, v in raw["languages"].items()}}
    return dict(raw)
