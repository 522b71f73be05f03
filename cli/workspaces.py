"""`webhooks workspace ...`: a workspace's settings, where operational events go."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import Workspace, with_store
from cli.output import JsonOption, emit, fail
from core.config import Settings
from models.tables import WorkspaceSettings, WorkspaceSettingsPublic, WorkspaceSettingsUpdate
from services import workspaces
from store.queries import Store

workspace_app = typer.Typer(help="A workspace's settings: where operational events go.", no_args_is_help=True)


def show_workspace(settings: WorkspaceSettingsPublic) -> None:
    typer.echo(f"workspace            {settings.workspace_id}")
    typer.echo(f"notification url     {settings.notification_url or '(none: operational events are only logged)'}")
    typer.echo(f"notification secret  {settings.notification_secret}")


@workspace_app.command("show")
def workspace_show(workspace_id: Workspace, json_: bool = JsonOption) -> None:
    """The notification URL for operational events (webhook.disabled) and the secret that signs them."""
    shown = WorkspaceSettingsPublic.model_validate(
        with_store(lambda s: workspaces.get_settings(s, workspace_id)), from_attributes=True
    )
    emit(shown, json_, lambda: show_workspace(shown))


@workspace_app.command("set")
def workspace_set(
    workspace_id: Workspace,
    notification_url: Annotated[
        str | None, typer.Option(help="Where webhook.disabled events go; --no-notification-url clears it.")
    ] = None,
    clear: Annotated[bool, typer.Option("--no-notification-url", help="Stop sending operational events.")] = False,
    json_: bool = JsonOption,
) -> None:
    """Set or clear the workspace's notification URL."""
    if (notification_url is None) == (not clear):
        fail("give --notification-url URL, or --no-notification-url")
    settings = Settings()

    async def work(store: Store) -> WorkspaceSettings:
        update = WorkspaceSettingsUpdate(notification_url=None if clear else notification_url)
        return await workspaces.update_settings(store, workspace_id, update, allow_private=settings.allow_private_urls)

    shown = WorkspaceSettingsPublic.model_validate(with_store(work), from_attributes=True)
    emit(shown, json_, lambda: show_workspace(shown))
