"""Encryption of everything Temporal stores for the pipeline (workflow inputs, activity inputs and
results, signals, queries): a payload codec with AES-256-GCM, so the contact's data is unreadable
in the server's database and in the UI without the key (the codec server reads it for people who
have it).

`WEBHOOKS_ENCRYPTION_KEY` holds one or more keys, `ID:BASE64` separated by commas. The first
encrypts; every one decrypts, so a key can be rotated: put the new one first, keep the old one
until no history needs it. `webhooks codec-server --new-key` prints a fresh key.
"""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Sequence

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
NONCE_BYTES = 12


def parse_keys(
    text: str, variable: str = "WEBHOOKS_ENCRYPTION_KEY", new_key_command: str = "webhooks codec-server --new-key"
) -> dict[str, bytes]:
    """`ID:BASE64,ID:BASE64` (first one active) into {id: 32-byte key}, in order. The messages name
    `variable` (where the text came from) and the command that makes a key."""
    keys: dict[str, bytes] = {}
    for n, part in enumerate((p.strip() for p in text.split(",") if p.strip()), start=1):
        key_id, sep, encoded = part.partition(":")
        if not sep or not key_id:
            raise ValueError(f"{variable}: entry {n} is not ID:BASE64 (`{new_key_command}`)")
        try:
            key = base64.b64decode(encoded, validate=True)
        except ValueError:
            raise ValueError(f"{variable}: key {key_id!r} is not base64") from None
        if len(key) != 32:
            raise ValueError(f"{variable}: key {key_id!r} has {len(key)} bytes; AES-256 needs 32")
        if key_id in keys:
            raise ValueError(f"{variable}: key id {key_id!r} appears twice")
        keys[key_id] = key
    return keys


def new_key(key_id: str = "k1") -> str:
    return f"{key_id}:{base64.b64encode(secrets.token_bytes(32)).decode()}"


class EncryptionCodec(PayloadCodec):
    def __init__(self, keys: dict[str, bytes]) -> None:
        if not keys:
            raise ValueError("at least one key is needed")
        self.active = next(iter(keys))
        self.ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        cipher = self.ciphers[self.active]
        encoded = []
        for payload in payloads:
            nonce = os.urandom(NONCE_BYTES)
            sealed = cipher.encrypt(nonce, payload.SerializeToString(), self.active.encode())
            encoded.append(Payload(metadata={"encoding": ENCODING, KEY_ID: self.active.encode()}, data=nonce + sealed))
        return encoded

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        decoded = []
        for payload in payloads:
            if payload.metadata.get("encoding") != ENCODING:
                decoded.append(payload)  # written before encryption was turned on
                continue
            key_id = payload.metadata.get(KEY_ID, b"").decode()
            cipher = self.ciphers.get(key_id)
            if cipher is None:
                raise ValueError(f"payload encrypted with key {key_id!r}, which WEBHOOKS_ENCRYPTION_KEY does not hold")
            nonce, sealed = payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:]
            decoded.append(Payload.FromString(cipher.decrypt(nonce, sealed, key_id.encode())))
        return decoded
