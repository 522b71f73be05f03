"""What routes depend on, as `Annotated` aliases: the store, the Temporal client, the settings,
and the caller's API key checked against the workspace in the path."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from temporalio.client import Client

from core.config import Settings
from models.tables import ApiKey
from services.access import Unauthorized, authenticate, authorize
from store.queries import Store


def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def get_client(request: Request) -> Client:
    client: Client = request.app.state.temporal
    return client


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


StoreDep = Annotated[Store, Depends(get_store)]
ClientDep = Annotated[Client, Depends(get_client)]
SettingsDep = Annotated[Settings, Depends(get_settings)]

bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer wk_...`")


async def get_key(
    store: StoreDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> ApiKey:
    if credentials is None:
        raise HTTPException(401, "missing API key: send Authorization: Bearer <key>", {"WWW-Authenticate": "Bearer"})
    try:
        return await authenticate(store, credentials.credentials)
    except Unauthorized as err:
        raise HTTPException(401, str(err), {"WWW-Authenticate": "Bearer"}) from None


KeyDep = Annotated[ApiKey, Depends(get_key)]


def get_workspace(key: KeyDep, workspace_id: Annotated[str, Path(max_length=200)]) -> str:
    authorize(key, workspace_id)
    return workspace_id


WorkspaceDep = Annotated[str, Depends(get_workspace)]
"""The workspace in the path, once the caller's key is known to cover it."""
