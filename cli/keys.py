"""`webhooks key ...`: API keys for the HTTP API."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import with_store
from cli.output import JsonOption, emit, fail, table
from models.tables import ApiKeyPublic
from services import access

key_app = typer.Typer(help="API keys for the HTTP API.", no_args_is_help=True)


@key_app.command("create")
def key_create(
    name: Annotated[str, typer.Option(help="Who or what uses it, e.g. 'platform backend'.")],
    workspace: Annotated[str | None, typer.Option("--workspace", "-w", help="The workspace it acts on.")] = None,
    admin: Annotated[bool, typer.Option("--admin", help="A key for every workspace.")] = False,
    json_: bool = JsonOption,
) -> None:
    """Create an API key; prints it once (only its hash is stored)."""
    if admin == (workspace is not None):
        fail("give either --workspace WS or --admin")
    created = with_store(lambda s: access.create_key(s, workspace, name))
    emit(
        created,
        json_,
        lambda: typer.echo(f"{created.id}  {created.key}\n(shown once: only its hash is kept)"),
    )


@key_app.command("list")
def key_list(
    workspace: Annotated[str | None, typer.Option("--workspace", "-w")] = None, json_: bool = JsonOption
) -> None:
    """List API keys (never the keys themselves)."""
    keys = [ApiKeyPublic.model_validate(k, from_attributes=True) for k in with_store(lambda s: s.list_keys(workspace))]
    emit(
        keys,
        json_,
        lambda: table(
            [
                (
                    k.id,
                    k.prefix + "...",
                    k.workspace_id or "(admin)",
                    k.name,
                    "revoked" if k.revoked_at else "active",
                )
                for k in keys
            ],
            ["ID", "KEY", "WORKSPACE", "NAME", "STATE"],
        ),
    )


@key_app.command("revoke")
def key_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (key_...).")], json_: bool = JsonOption
) -> None:
    """Revoke an API key: it stops working at once."""
    key = ApiKeyPublic.model_validate(with_store(lambda s: s.revoke_key(key_id)), from_attributes=True)
    emit(key, json_, lambda: typer.echo(f"revoked {key.id}"))
