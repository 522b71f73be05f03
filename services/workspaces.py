"""A workspace's own settings: where its operational events (`webhook.disabled`) go."""

from __future__ import annotations

import contextlib

from sqlalchemy.exc import IntegrityError

from models.tables import WorkspaceSettings, WorkspaceSettingsUpdate, utcnow
from services.webhooks import check_url_target
from store.queries import Store


async def get_settings(store: Store, workspace_id: str) -> WorkspaceSettings:
    """The workspace's settings; stored with their defaults (no URL, a new secret) on first read, so
    the secret shown is the one that will sign."""
    found = await store.workspace_settings(workspace_id)
    if found is None:
        with contextlib.suppress(IntegrityError):  # a concurrent first read stored them: use those
            await store.add(WorkspaceSettings(workspace_id=workspace_id))
        found = await store.workspace_settings(workspace_id)
    assert found is not None
    return found


async def update_settings(
    store: Store, workspace_id: str, update: WorkspaceSettingsUpdate, *, allow_private: bool
) -> WorkspaceSettings:
    if update.notification_url is not None:
        await check_url_target(update.notification_url, allow_private=allow_private, field="notification_url")
    settings = await get_settings(store, workspace_id)
    settings.notification_url = update.notification_url
    settings.updated_at = utcnow()
    await store.add(settings)
    return settings
