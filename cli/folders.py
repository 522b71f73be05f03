"""`webhooks folder ...`: folders that group webhooks on the Webhooks page."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import Workspace, with_store
from cli.output import JsonOption, emit, table
from models.tables import FolderCreate, FolderPublic
from services import webhooks as service

folder_app = typer.Typer(help="Folders that group webhooks on the Webhooks page.", no_args_is_help=True)

FolderId = Annotated[str, typer.Argument(help="The folder's id (fld_...).")]


def show_folder(folder: FolderPublic) -> None:
    typer.echo(f"{folder.id}  {folder.name}")


@folder_app.command("create")
def folder_create(
    workspace: Workspace,
    name: Annotated[str, typer.Option(help="The folder's name, unique in the workspace.")],
    json_: bool = JsonOption,
) -> None:
    """Create a folder."""
    folder = with_store(lambda s: service.create_folder(s, workspace, FolderCreate(name=name)))
    shown = FolderPublic.model_validate(folder, from_attributes=True)
    emit(shown, json_, lambda: show_folder(shown))


@folder_app.command("list")
def folder_list(workspace: Workspace, json_: bool = JsonOption) -> None:
    """List a workspace's folders."""
    folders = [
        FolderPublic.model_validate(f, from_attributes=True) for f in with_store(lambda s: s.list_folders(workspace))
    ]
    emit(folders, json_, lambda: table([(f.id, f.name) for f in folders], ["ID", "NAME"]))


@folder_app.command("rename")
def folder_rename(
    workspace: Workspace, folder_id: FolderId, name: Annotated[str, typer.Option()], json_: bool = JsonOption
) -> None:
    """Rename a folder."""
    folder = with_store(lambda s: service.rename_folder(s, workspace, folder_id, FolderCreate(name=name)))
    shown = FolderPublic.model_validate(folder, from_attributes=True)
    emit(shown, json_, lambda: show_folder(shown))


@folder_app.command("delete")
def folder_delete(
    workspace: Workspace,
    folder_id: FolderId,
    move_webhooks_out: Annotated[
        bool, typer.Option("--move-webhooks-out", help="Move its webhooks to the top level first.")
    ] = False,
    json_: bool = JsonOption,
) -> None:
    """Delete a folder; one that holds webhooks only with --move-webhooks-out."""
    moved = with_store(lambda s: service.delete_folder(s, workspace, folder_id, move_webhooks_out=move_webhooks_out))
    emit(
        {"id": folder_id, "deleted": True, "webhooks_moved_out": moved},
        json_,
        lambda: typer.echo(f"deleted {folder_id}" + (f"; {moved} webhook(s) moved to the top level" if moved else "")),
    )
