"""Secrets at rest: every secret the store keeps (a webhook's signing secret, the previous one during
a rotation, a receiver's credentials, a workspace's notification secret) is AES-256-GCM encrypted
in its column, under a key from the environment. API keys are kept as SHA-256 hashes, not here.

A value is stored as `enc:v1:<key id>:<base64(nonce + ciphertext)>`, sealed with its column's
name (`webhooks.secret`) as associated data, so that it cannot be moved to another column. The
keyring holds one or more keys (`WEBHOOKS_SECRETS_KEY`, `ID:BASE64[,ID:BASE64...]`, a key of its
own, not WEBHOOKS_ENCRYPTION_KEY's): the first encrypts, every one decrypts. A key is rotated by
putting the new key first and the old one after it, restarting the processes, running `webhooks
secrets reencrypt`, then dropping the old key.

A column type has no per-engine context, so the keyring is process-wide (`install_keyring`), and
using an encrypted column before one is installed is an error: nothing is ever written in clear.
Which keys, and the store checked against them before a process reads or sends anything: store.keys.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Dialect, Text, TypeDecorator

VARIABLE = "WEBHOOKS_SECRETS_KEY"
NEW_KEY_COMMAND = "webhooks secrets new-key"
PREFIX = "enc:v1:"
NONCE_BYTES = 12


class SecretsError(Exception):
    """The store's secrets cannot be read or written with the keys at hand. The message is one
    line, fit to print as it is."""


class NoKeyring(SecretsError):
    pass


class Keyring:
    """The keys, in order: the first (`active`) encrypts, every one decrypts."""

    def __init__(self, keys: Mapping[str, bytes], source: str = VARIABLE) -> None:
        if not keys:
            raise SecretsError(f"{source} holds no key (make one with: {NEW_KEY_COMMAND})")
        self.active = next(iter(keys))
        self.source = source
        """Where the keys came from, for messages: the variable, or the key file."""
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self._opened: dict[tuple[str, str], str] = {}

    @property
    def key_ids(self) -> list[str]:
        return list(self._ciphers)

    def __contains__(self, key_id: object) -> bool:
        return key_id in self._ciphers

    def encrypt(self, column: str, value: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[self.active].encrypt(nonce, value.encode(), column.encode())
        return f"{PREFIX}{self.active}:{base64.b64encode(nonce + sealed).decode()}"

    def decrypt(self, column: str, stored: str) -> str:
        # The same few webhooks are read on every delivery: a value once opened is kept (the
        # secrets are in this process's memory anyway), within a bound.
        opened = self._opened.get((column, stored))
        if opened is not None:
            return opened
        key_id = key_id_of(stored)
        if key_id is None:
            raise SecretsError(
                f"{column} holds a secret in clear: run `webhooks db upgrade` (a store not migrated), "
                "or `webhooks secrets reencrypt` (one written by an older release)"
            )
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise SecretsError(
                f"{column} holds a secret encrypted with key {key_id!r}, which {self.source} does not hold"
            )
        try:
            data = base64.b64decode(stored[len(PREFIX) + len(key_id) + 1 :], validate=True)
            opened = cipher.decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], column.encode()).decode()
        except (ValueError, InvalidTag):
            raise SecretsError(f"key {key_id!r} does not decrypt a value of {column}: wrong key") from None
        if len(self._opened) >= 10_000:
            self._opened.clear()
        self._opened[(column, stored)] = opened
        return opened

    def opens(self, column: str, stored: str, expected: str) -> bool:
        try:
            return self.decrypt(column, stored) == expected
        except SecretsError:
            return False


def key_id_of(stored: str) -> str | None:
    """The key id an encrypted value names; None for a value in clear."""
    if not stored.startswith(PREFIX):
        return None
    key_id, sep, _ = stored[len(PREFIX) :].partition(":")
    return key_id if sep and key_id else None


def parse_keyring(text: str, source: str) -> Keyring:
    """`ID:BASE64[,ID:BASE64...]` into a keyring; a malformed value is refused in one line."""
    from core.codec import parse_keys

    try:
        return Keyring(parse_keys(text, source, NEW_KEY_COMMAND), source)
    except ValueError as err:
        raise SecretsError(str(err)) from None


# --- the process-wide keyring -------------------------------------------------------------------

_keyring: Keyring | None = None


def install_keyring(keys: Keyring | Mapping[str, bytes] | None, source: str = VARIABLE) -> Keyring | None:
    """Put a keyring in place for the whole process (None takes it away); returns the one it
    replaces, to put back."""
    global _keyring
    previous = _keyring
    _keyring = keys if keys is None or isinstance(keys, Keyring) else Keyring(keys, source)
    return previous


def keyring() -> Keyring:
    """The keyring in place; an error when there is none."""
    if _keyring is None:
        raise NoKeyring(
            "no secrets keyring is installed: the store's secret columns are neither written nor read "
            "without one (opening the store with Store.from_url installs the configured one)"
        )
    return _keyring


class EncryptedText(TypeDecorator[str]):
    """A secret column: encrypted on the way in and decrypted on the way out with the process's
    keyring. `column` ("table.column") is sealed with every value."""

    impl = Text
    cache_ok = True

    def __init__(self, column: str) -> None:
        super().__init__()
        self.column = column

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else keyring().encrypt(self.column, value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else keyring().decrypt(self.column, value)
