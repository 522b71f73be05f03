"""API keys: bearer tokens stored as their SHA-256, each bound to one workspace, or admin."""

from __future__ import annotations

import hashlib
import secrets

from core.errors import Forbidden, Refused
from models.tables import ApiKey, ApiKeyCreated
from store.queries import Store

KEY_PREFIX = "wk_"


def digest(token: str) -> str:
    # Keys are 256 random bits: a plain hash is enough (no dictionary to attack), and it is fast
    # enough to check on every request.
    return hashlib.sha256(token.encode()).hexdigest()


async def create_key(store: Store, workspace_id: str | None, name: str, token: str | None = None) -> ApiKeyCreated:
    """A new key for one workspace (or, with None, an admin key for all). `token` sets the key
    itself, for the dev stack's well-known local key; otherwise it is random."""
    name = name.strip()
    if not name:
        raise Refused("must not be empty", "name")
    token = token or KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(workspace_id=workspace_id, name=name, prefix=token[:10], hash=digest(token))
    await store.add(key)
    return ApiKeyCreated.model_validate(key, from_attributes=True, update={"key": token})


class Unauthorized(Exception):
    pass


async def authenticate(store: Store, token: str) -> ApiKey:
    key = await store.key_by_hash(digest(token))
    if key is None or key.revoked_at is not None:
        raise Unauthorized("unknown or revoked API key")
    return key


def authorize(key: ApiKey, workspace_id: str) -> None:
    """A workspace key acts on its own workspace only; an admin key on every one."""
    if key.workspace_id is not None and key.workspace_id != workspace_id:
        raise Forbidden(f"this API key belongs to another workspace than {workspace_id}", "workspace_id")
