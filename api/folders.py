"""Folders that group a workspace's webhooks."""

from __future__ import annotations

from fastapi import APIRouter, status

from api.deps import StoreDep, WorkspaceDep
from api.errors import UNKNOWN_ID, Answers, answer
from models.tables import FolderCreate, FolderPublic
from services import webhooks as service

router = APIRouter(prefix="/workspaces/{workspace_id}/folders", tags=["folders"])
NAME_TAKEN: Answers = {
    409: answer("A folder of that name is in the workspace already (whatever the case of its letters).")
}


@router.get("")
async def list_folders(store: StoreDep, workspace_id: WorkspaceDep) -> list[FolderPublic]:
    return [FolderPublic.model_validate(f, from_attributes=True) for f in await store.list_folders(workspace_id)]


@router.post("", status_code=status.HTTP_201_CREATED, responses=NAME_TAKEN)
async def create_folder(store: StoreDep, workspace_id: WorkspaceDep, body: FolderCreate) -> FolderPublic:
    folder = await service.create_folder(store, workspace_id, body)
    return FolderPublic.model_validate(folder, from_attributes=True)


@router.patch("/{folder_id}", responses=UNKNOWN_ID | NAME_TAKEN)
async def rename_folder(
    store: StoreDep, workspace_id: WorkspaceDep, folder_id: str, body: FolderCreate
) -> FolderPublic:
    folder = await service.rename_folder(store, workspace_id, folder_id, body)
    return FolderPublic.model_validate(folder, from_attributes=True)


@router.delete(
    "/{folder_id}",
    responses=UNKNOWN_ID | {409: answer("The folder holds webhooks, and `move_webhooks_out` is not true.")},
)
async def delete_folder(
    store: StoreDep, workspace_id: WorkspaceDep, folder_id: str, move_webhooks_out: bool = False
) -> dict[str, object]:
    """Refused (409) while the folder holds webhooks, unless `move_webhooks_out=true` moves them
    to the top level first."""
    moved = await service.delete_folder(store, workspace_id, folder_id, move_webhooks_out=move_webhooks_out)
    return {"id": folder_id, "deleted": True, "webhooks_moved_out": moved}
