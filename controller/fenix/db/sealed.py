"""Secrets at rest: subscription secrets are stored encrypted when a key is configured.

A secret signs every delivery to its subscriber; whoever reads the database (a backup, a copy
of the SQLite file) could otherwise sign notifications as this controller. With
`Settings.secret_key` (a Fernet key: `python -c "from cryptography.fernet import Fernet;
print(Fernet.generate_key().decode())"`) the column holds `fernet:<token>` and the code sees the
plain secret, encrypted on write and decrypted on read by the column type. The key belongs to
the engine (its dialect object), so several databases in one process keep theirs apart.
Without a key secrets are stored as given, and rows written so are still read once a key is set.
"""

from __future__ import annotations

import weakref
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import Text
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.types import TypeDecorator

PREFIX = "fernet:"
_KEYS: weakref.WeakKeyDictionary[Dialect, Fernet] = weakref.WeakKeyDictionary()


class SecretKeyError(ValueError):
    """The secret key is unusable, missing for sealed rows, or not the one they were sealed with."""


def use_secret_key(engine: Engine, key: str | None) -> None:
    """Seal the secrets written through `engine` with `key` (None: store them as given)."""
    if key is None:
        _KEYS.pop(engine.dialect, None)
        return
    try:
        _KEYS[engine.dialect] = Fernet(key.encode())
    except (ValueError, TypeError) as exc:
        raise SecretKeyError(
            "FENIX_SECRET_KEY is not a Fernet key (32 url-safe base64-encoded bytes); make one "
            'with: python -c "from cryptography.fernet import Fernet; '
            'print(Fernet.generate_key().decode())"'
        ) from exc


class SealedText(TypeDecorator[str]):
    """Text encrypted at rest with the engine's secret key, when it has one."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        fernet = _KEYS.get(dialect)
        if value is None or fernet is None:
            return value
        return PREFIX + fernet.encrypt(value.encode()).decode()

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        if value is None or not str(value).startswith(PREFIX):
            return value
        fernet = _KEYS.get(dialect)
        if fernet is None:
            raise SecretKeyError(
                "subscription secrets in the database are encrypted: set FENIX_SECRET_KEY to "
                "the key they were written with"
            )
        try:
            return fernet.decrypt(value[len(PREFIX) :].encode()).decode()
        except InvalidToken:
            raise SecretKeyError(
                "FENIX_SECRET_KEY is not the key the subscription secrets were written with"
            ) from None
