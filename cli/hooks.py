"""`webhooks hook ...` and `webhooks folder ...`: the Webhooks page, from a terminal, on the store."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from pydantic import ValidationError

from cli.output import JsonOption, emit, explain, fail, table
from core.config import Settings
from models.tables import (
    FolderCreate,
    FolderPublic,
    Webhook,
    WebhookCreate,
    WebhookPublic,
    WebhookWithSecret,
)
from services.webhooks import Refused, create_webhook
from store.queries import NotFound, Store

T = TypeVar("T")

hook_app = typer.Typer(help="Create, list, show, turn on or off and delete webhooks.", no_args_is_help=True)
folder_app = typer.Typer(help="Folders that group webhooks on the Webhooks page.", no_args_is_help=True)

Workspace = Annotated[str, typer.Option("--workspace", "-w", help="The workspace (bot / page) id.")]
HookId = Annotated[str, typer.Argument(help="The webhook's id (wh_...).")]


def with_store(work: Callable[[Store], Awaitable[T]]) -> T:
    """Run one piece of work on the configured store, turning rule breaks into clear errors."""

    async def main() -> T:
        store = Store.from_url(Settings().database_url)
        try:
            return await work(store)
        finally:
            await store.close()

    try:
        return asyncio.run(main())
    except (ValidationError, Refused, NotFound, ValueError) as err:
        fail(explain(err))


def parse_filters(filters: list[str]) -> dict[str, str]:
    parsed: dict[str, str] = {}
    for item in filters:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            fail(f"--filter {item!r}: expected KEY=VALUE, e.g. --filter tag='Order Closed'")
        parsed[key.strip()] = value
    return parsed


def show_hook(hook: Webhook, with_secret: bool = False) -> None:
    state = "on" if hook.enabled else f"off ({hook.disabled_reason})" if hook.disabled_reason else "off"
    typer.echo(f"{hook.id}  {hook.name}")
    typer.echo(f"  workspace  {hook.workspace_id}" + (f"  folder {hook.folder_id}" if hook.folder_id else ""))
    typer.echo(f"  when       {hook.event_type}" + "".join(f"  {k}={v!r}" for k, v in hook.filter.items()))
    typer.echo(f"  url        {hook.url}")
    typer.echo(f"  state      {state}")
    if with_secret:
        typer.echo(f"  secret     {hook.secret}")


@hook_app.command("create")
def hook_create(
    workspace: Workspace,
    name: Annotated[str, typer.Option(help="Shown on the Webhooks page and sent in each delivery.")],
    event: Annotated[str, typer.Option(help="The trigger type, e.g. tag.applied.")],
    url: Annotated[str, typer.Option(help="Where deliveries are POSTed (http or https).")],
    filter: Annotated[
        list[str], typer.Option("--filter", help="KEY=VALUE narrowing the trigger, e.g. tag=VIP.")
    ] = [],  # noqa: B006  (typer reads the default; it is never mutated)
    folder: Annotated[str | None, typer.Option(help="The folder's id.")] = None,
    json_: bool = JsonOption,
) -> None:
    """Create a webhook; prints it with its signing secret (shown only here)."""

    async def work(store: Store) -> Webhook:
        settings = Settings()
        values = {"workspace_id": workspace, "name": name, "event_type": event, "url": url}
        create = WebhookCreate.model_validate(values | {"filter": parse_filters(filter), "folder_id": folder})
        return await create_webhook(store, create, allow_private=settings.allow_private_urls)

    hook = with_store(work)
    created = WebhookWithSecret.model_validate(hook, from_attributes=True)
    emit(created, json_, lambda: show_hook(hook, with_secret=True))


@hook_app.command("list")
def hook_list(
    workspace: Workspace,
    folder: Annotated[str | None, typer.Option(help="Only this folder's webhooks.")] = None,
    event: Annotated[str | None, typer.Option(help="Only webhooks of this trigger type.")] = None,
    enabled: Annotated[
        bool | None, typer.Option("--enabled/--disabled", help="Only on, or only off.")
    ] = None,
    json_: bool = JsonOption,
) -> None:
    """List a workspace's webhooks."""
    hooks = with_store(
        lambda s: s.list_webhooks(workspace, folder_id=folder, event_type=event, enabled=enabled)
    )
    public = [WebhookPublic.model_validate(h, from_attributes=True) for h in hooks]
    emit(
        public,
        json_,
        lambda: table(
            [(h.id, h.name, h.event_type, "on" if h.enabled else "off", h.url) for h in public],
            ["ID", "NAME", "TRIGGER", "STATE", "URL"],
        ),
    )


@hook_app.command("show")
def hook_show(
    hook_id: HookId,
    secret: Annotated[bool, typer.Option("--secret", help="Also print the signing secret.")] = False,
    json_: bool = JsonOption,
) -> None:
    """Show one webhook."""
    hook = with_store(lambda s: s.get_webhook(hook_id))
    shown = (WebhookWithSecret if secret else WebhookPublic).model_validate(hook, from_attributes=True)
    emit(shown, json_, lambda: show_hook(hook, with_secret=secret))


def toggle(hook_id: str, enabled: bool, reason: str | None, json_: bool) -> None:
    hook = with_store(lambda s: s.set_enabled(hook_id, enabled, reason))
    emit(WebhookPublic.model_validate(hook, from_attributes=True), json_, lambda: show_hook(hook))


@hook_app.command("enable")
def hook_enable(hook_id: HookId, json_: bool = JsonOption) -> None:
    """Turn a webhook on (clears the reason it was turned off)."""
    toggle(hook_id, True, None, json_)


@hook_app.command("disable")
def hook_disable(
    hook_id: HookId,
    reason: Annotated[
        str, typer.Option(help="Kept with the webhook and shown to its owners.")
    ] = "turned off by a user",
    json_: bool = JsonOption,
) -> None:
    """Turn a webhook off: events stop reaching it, pending retries are skipped."""
    toggle(hook_id, False, reason, json_)


@hook_app.command("delete")
def hook_delete(hook_id: HookId, json_: bool = JsonOption) -> None:
    """Delete a webhook; its pending retries are skipped, its delivery log is kept."""
    with_store(lambda s: s.delete_webhook(hook_id))
    emit({"id": hook_id, "deleted": True}, json_, lambda: typer.echo(f"deleted {hook_id}"))


@folder_app.command("create")
def folder_create(
    workspace: Workspace,
    name: Annotated[str, typer.Option(help="The folder's name, unique in the workspace.")],
    json_: bool = JsonOption,
) -> None:
    """Create a folder."""
    folder = with_store(lambda s: s.create_folder(FolderCreate(workspace_id=workspace, name=name)))
    public = FolderPublic.model_validate(folder, from_attributes=True)
    emit(public, json_, lambda: typer.echo(f"{public.id}  {public.name}"))


@folder_app.command("list")
def folder_list(workspace: Workspace, json_: bool = JsonOption) -> None:
    """List a workspace's folders."""
    folders = [
        FolderPublic.model_validate(f, from_attributes=True)
        for f in with_store(lambda s: s.list_folders(workspace))
    ]
    emit(folders, json_, lambda: table([(f.id, f.name) for f in folders], ["ID", "NAME"]))
