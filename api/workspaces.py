"""A workspace's settings: where its operational events go."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import SettingsDep, StoreDep, WorkspaceDep
from models.tables import WorkspaceSettings, WorkspaceSettingsPublic, WorkspaceSettingsUpdate
from services import workspaces

router = APIRouter(prefix="/workspaces/{workspace_id}", tags=["workspace"])


def public(settings: WorkspaceSettings) -> WorkspaceSettingsPublic:
    return WorkspaceSettingsPublic.model_validate(settings, from_attributes=True)


@router.get("/settings")
async def show_settings(store: StoreDep, workspace_id: WorkspaceDep) -> WorkspaceSettingsPublic:
    """The notification URL for operational events (`webhook.disabled`) and the secret that signs them."""
    return public(await workspaces.get_settings(store, workspace_id))


@router.put("/settings")
async def update_settings(
    store: StoreDep, settings: SettingsDep, workspace_id: WorkspaceDep, update: WorkspaceSettingsUpdate
) -> WorkspaceSettingsPublic:
    """Set (or, with null, clear) the notification URL."""
    changed = await workspaces.update_settings(store, workspace_id, update, allow_private=settings.allow_private_urls)
    return public(changed)
