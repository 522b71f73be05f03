"""`webhooks secrets ...`: the key the store's secrets are encrypted under (store.crypto, store.keys).

Rotating it: put a new key first in WEBHOOKS_SECRETS_KEY and keep the old one after it, restart
every process (API, workers), run `webhooks secrets reencrypt`, then drop the old key and restart
again.
"""

from __future__ import annotations

from typing import Annotated

import typer

from cli.output import JsonOption, emit, fail
from core.config import Settings

secrets_app = typer.Typer(
    help="The key the store's secrets (signing secrets, receivers' credentials) are encrypted under.",
    no_args_is_help=True,
)


@secrets_app.command("new-key")
def new_key(
    key_id: Annotated[
        str | None, typer.Option("--id", help="The key's id (default: k and the UTC time, e.g. k20261127T093000).")
    ] = None,
    json_: bool = JsonOption,
) -> None:
    """Print a fresh key, ID:BASE64, for WEBHOOKS_SECRETS_KEY (put it first to make it the active one)."""
    from store.keys import new_key as make_key

    if key_id is not None and (not key_id.strip() or any(c in key_id for c in ":, \t")):
        fail(f"--id {key_id!r}: a key id is not empty and holds no ':', ',' or space")
    key = make_key(key_id)
    emit({"key": key}, json_, lambda: typer.echo(key))


@secrets_app.command("reencrypt")
def reencrypt(
    batch: Annotated[int, typer.Option(help="Rows per transaction.", min=1, max=10_000)] = 500,
    json_: bool = JsonOption,
) -> None:
    """Re-encrypt every secret under the active (first) key of WEBHOOKS_SECRETS_KEY, and forget the
    keys no secret is under any more: those can then be dropped from the variable."""
    from store import keys
    from store.crypto import SecretsError

    try:
        done = keys.reencrypt(Settings().database_url, batch=batch)
    except SecretsError as err:
        fail(str(err))

    def human() -> None:
        typer.echo(f"re-encrypted {done.reencrypted} secret(s) under key {done.active_key!r}")
        if done.encrypted_from_clear:
            typer.echo(f"encrypted {done.encrypted_from_clear} secret(s) found in clear")
        if done.changed_meanwhile:
            typer.echo(f"{done.changed_meanwhile} secret(s) changed by another process meanwhile, left as written")
        in_use = ", ".join(f"{k} ({n})" for k, n in done.keys_in_use.items()) or "none"
        typer.echo(f"keys in use: {in_use}")
        if done.removed_keys:
            typer.echo(f"no longer used, can be dropped: {', '.join(done.removed_keys)}")
        if done.not_under_active_key:
            typer.echo(
                f"{done.not_under_active_key} secret(s) are still under another key or in clear (written meanwhile "
                "by a process on the old configuration): restart it with the new key first, then run this again"
            )

    emit(
        {
            "active_key": done.active_key,
            "reencrypted": done.reencrypted,
            "encrypted_from_clear": done.encrypted_from_clear,
            "changed_meanwhile": done.changed_meanwhile,
            "keys_in_use": done.keys_in_use,
            "removed_keys": done.removed_keys,
            "not_under_active_key": done.not_under_active_key,
        },
        json_,
        human,
    )
    if done.not_under_active_key:
        raise typer.Exit(1)
