"""What the store-backed commands share: running work on the configured store, and the options
every group takes. The command line acts as an operator: on any workspace, without a key."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from pydantic import ValidationError

from cli.output import fail
from core.config import Settings
from core.errors import ServiceError
from models.events import describe_validation_error
from store.queries import Store

T = TypeVar("T")

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
    except ServiceError as err:
        fail(str(err))
    except ValidationError as err:
        fail(describe_validation_error(err))


async def workspace_of(store: Store, webhook_id: str) -> str:
    return (await store.get_webhook(webhook_id)).workspace_id
