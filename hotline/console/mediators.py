"""Mediator accounts: name, login, languages, phone, role; passwords hashed with argon2.

Keys:
- `med:<login>`           hash: login, name, languages (comma-separated), phone (encrypted),
                          phone_key, role (mediator|editor|admin), password (argon2 hash),
                          active (1|0), pin (argon2 hash of the PIN for recording by phone),
                          locale (the console's language they chose: en|fr|nl; absent: their
                          browser's)
- `med:all`               set of logins
- `med:phone:<phone key>` login of the mediator with that phone (SMS commands)
- `med:seen:<login>`      present while the mediator was active in the last SEEN_SECONDS
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from hotline.console.i18n import LOCALES
from hotline.console.sessions import Sessions
from hotline.state.client import TextRedis
from hotline.state.privacy import Privacy, normalize_number

ROLES = ("mediator", "editor", "admin")  # an editor reviews and records content, takes no calls
EDITING_ROLES = ("editor", "admin")
PIN_LENGTHS = range(4, 9)
SEEN_SECONDS = 15 * 60
_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verifying against this keeps a wrong login as slow as a wrong password (made on first
    use: hashing at import would slow every process that imports this module)."""
    return _hasher.hash("not a password")


RESERVED = frozenset({"all"})  # `med:all` is the set of logins


def is_login(name: str) -> bool:
    """True when `name` can be a login: letters, digits and _, at most 64, not a key of its own."""
    return name.isidentifier() and name.isascii() and len(name) <= 64 and name not in RESERVED


class MediatorError(ValueError):
    """A mediator cannot be created or changed that way."""


@dataclass(frozen=True)
class Mediator:
    """A mediator's account; `phone` stays encrypted."""

    login: str
    name: str
    languages: tuple[str, ...]
    phone: str
    role: str
    active: bool
    locale: str | None = None  # the console's language they chose (None: their browser's)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def takes_calls(self) -> bool:
        """Mediators and admins call callers back; editors work on the content only."""
        return self.role != "editor"

    def edits(self, lang: str) -> bool:
        """True when this account may review and record `lang`'s content (admins: every
        language; editors: their own)."""
        return self.is_admin or (self.role == "editor" and lang in self.languages)


class Mediators:
    """The mediator accounts in Redis."""

    def __init__(self, r: TextRedis, privacy: Privacy):
        self.r = r
        self.privacy = privacy

    def add(self, login: str, name: str, languages: list[str], phone: str, password: str,
            role: str = "mediator") -> Mediator:
        """Create an account; raises MediatorError when the login exists or a field is wrong."""
        login = login.strip().lower()
        number = normalize_number(phone)
        if not is_login(login):
            raise MediatorError("a login is letters, digits and _ only, and not 'all'")
        if role not in ROLES:
            raise MediatorError(f"role must be one of {', '.join(ROLES)}")
        if number is None:
            raise MediatorError("the phone number is not a valid number")
        if len(password) < 10:
            raise MediatorError("the password needs at least 10 characters")
        if not languages:
            raise MediatorError("a mediator speaks at least one language")
        if not self.r.sadd("med:all", login):
            raise MediatorError(f"login {login!r} exists already")
        phone_key = self.privacy.number_key(number)
        self.r.hset(f"med:{login}", mapping={
            "login": login, "name": name, "languages": ",".join(languages),
            "phone": self.privacy.encrypt(number), "phone_key": phone_key, "role": role,
            "password": _hasher.hash(password), "active": "1",
        })
        self.r.set(f"med:phone:{phone_key}", login)
        return self.get(login)  # type: ignore[return-value]

    def get(self, login: str) -> Mediator | None:
        """The account `login`, or None."""
        data = self.r.hgetall(f"med:{login}")
        if not data:
            return None
        return Mediator(login=data["login"], name=data["name"],
                        languages=tuple(filter(None, data["languages"].split(","))),
                        phone=data["phone"], role=data["role"], active=data["active"] == "1",
                        locale=data.get("locale") or None)

    def all(self) -> list[Mediator]:
        """Every account, by login."""
        found = (self.get(login) for login in sorted(self.r.smembers("med:all")))
        return [m for m in found if m]

    def disable(self, login: str) -> None:
        """Stop an account from logging in or receiving tickets; its console sessions end."""
        if not self.get(login):
            raise MediatorError(f"no mediator {login!r}")
        self.r.hset(f"med:{login}", "active", "0")
        Sessions(self.r).end_all(login)

    def set_locale(self, login: str, locale: str) -> None:
        """Keep the console's language `login` chose (one of the console's LOCALES)."""
        if locale not in LOCALES:
            raise MediatorError(f"the console speaks {', '.join(LOCALES)}")
        if not self.get(login):
            raise MediatorError(f"no mediator {login!r}")
        self.r.hset(f"med:{login}", "locale", locale)

    def check_password(self, login: str, password: str) -> Mediator | None:
        """The active account when `password` is right, else None (always as slow). A name that
        cannot be a login (`all`, `seen:x`: other keys of this family) is never looked up."""
        login = login.strip().lower()
        stored = self.r.hget(f"med:{login}", "password") if is_login(login) else None
        try:
            _hasher.verify(stored or _dummy_hash(), password)
        except (VerificationError, InvalidHashError):
            return None
        mediator = self.get(login) if stored else None
        return mediator if mediator and mediator.active else None

    def set_pin(self, login: str, pin: str) -> None:
        """Set the PIN that opens recording by phone (4 to 8 digits), hashed like a password."""
        if not self.get(login):
            raise MediatorError(f"no mediator {login!r}")
        if not (pin.isascii() and pin.isdigit() and len(pin) in PIN_LENGTHS):
            raise MediatorError("a PIN is 4 to 8 digits")
        self.r.hset(f"med:{login}", "pin", _hasher.hash(pin))

    def check_pin(self, login: str, pin: str) -> bool:
        """True when `pin` is the account's PIN (always as slow; False when it has none)."""
        stored = self.r.hget(f"med:{login}", "pin") if is_login(login) else None
        try:
            return bool(_hasher.verify(stored or _dummy_hash(), pin)) and stored is not None
        except (VerificationError, InvalidHashError):
            return False

    def by_phone(self, number: str) -> Mediator | None:
        """The active mediator whose phone is `number`, if any (for SMS commands)."""
        login = self.r.get(f"med:phone:{self.privacy.number_key(number)}")
        mediator = self.get(login) if login else None
        return mediator if mediator and mediator.active else None

    def seen(self, login: str) -> None:
        """Note that the mediator is working now."""
        self.r.set(f"med:seen:{login}", "1", ex=SEEN_SECONDS)

    def active_for(self, lang: str) -> list[Mediator]:
        """Active accounts speaking `lang` that take calls (never editors)."""
        return [m for m in self.all() if m.active and m.takes_calls and lang in m.languages]

    def working_now(self, lang: str) -> bool:
        """True when a mediator speaking `lang` was active in the last SEEN_SECONDS."""
        return any(self.r.exists(f"med:seen:{m.login}") for m in self.active_for(lang))
