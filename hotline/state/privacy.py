"""Phone numbers are sensitive: found by a keyed hash, stored encrypted, logged redacted.

One secret (HOTLINE_SECRET_KEY, or `var/secret-key` created with mode 0600 by the embedded
default) yields, through HKDF, the key of the hash and the key of the encryption, so neither
can be derived from the other.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

import phonenumbers
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = ["InvalidToken", "Privacy", "is_textable", "local_secret", "normalize_number", "redact",
           "secret_from", "textable_number"]


def local_secret(path: Path) -> str:
    """The random secret kept in `path`, created with mode 0600 the first time."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process created it first: read theirs
        else:
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_urlsafe(32))
    return path.read_text().strip()


def secret_from(configured: str, var_dir: Path) -> bytes:
    """The configured secret, or the one in `var_dir/secret-key` (the embedded default)."""
    return (configured or local_secret(var_dir / "secret-key")).encode()


def _derive(secret: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(secret)


def normalize_number(number: str, region: str = "BE") -> str | None:
    """`number` in E.164 form, or None when it is not a possible phone number."""
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def textable_number(number: str, countries: frozenset[str]) -> str | None:
    """`number` in E.164 form when it is a valid mobile number of one of `countries` (ISO
    codes), else None. It is `normalize_number(number)` then: `Privacy.number_key` can take it
    without parsing it again."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return None
    kinds = (phonenumbers.PhoneNumberType.MOBILE,
             phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)
    if (phonenumbers.is_valid_number(parsed)
            and phonenumbers.region_code_for_number(parsed) in countries
            and phonenumbers.number_type(parsed) in kinds):
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return None


def is_textable(number: str, countries: frozenset[str]) -> bool:
    """True when `number` is a valid mobile number of one of `countries` (ISO codes)."""
    return textable_number(number, countries) is not None


def redact(number: str | None) -> str:
    """A phone number fit for a log line: the country code and the last two digits only."""
    if not number:
        return "(none)"
    digits = [c for c in number if c.isdigit()]
    if len(digits) < 6:
        return "***"
    try:
        country = str(phonenumbers.parse(number, "BE").country_code)
    except phonenumbers.NumberParseException:
        country = "?"
    return f"+{country}…{''.join(digits[-2:])}"


class Privacy:
    """Keyed hashes and encryption of phone numbers with keys derived from one secret."""

    def __init__(self, secret: bytes):
        self.session_secret = _derive(secret, b"hotline console session v1")
        self._hash_key = _derive(secret, b"hotline number hash v1")
        self._fernet = Fernet(base64.urlsafe_b64encode(_derive(secret, b"hotline number box v1")))

    def number_key(self, number: str, *, e164: bool = False) -> str:
        """A stable pseudonym of `number` for Redis keys: the same number, the same key.
        `e164`: `number` is already in the form `normalize_number` gives (not parsed again)."""
        canonical = number if e164 else (normalize_number(number) or number.strip())
        return hmac.new(self._hash_key, canonical.encode(), hashlib.sha256).hexdigest()[:32]

    def encrypt(self, number: str) -> str:
        """`number` encrypted (authenticated), as text safe to store or to pass to a job."""
        return self._fernet.encrypt(number.encode()).decode()

    def decrypt(self, token: str) -> str:
        """The number inside `token`; raises InvalidToken when it was tampered with."""
        return self._fernet.decrypt(token.encode()).decode()
