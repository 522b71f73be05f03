"""`webhooks redeliver`: re-send what failed, for one workflow, one webhook over a time range, or
every failed event workflow a visibility query matches; says how many first and asks."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated

import typer

from cli.output import JsonOption, emit, fail, table
from core.config import Settings
from core.errors import ServiceError
from core.temporal import connect
from models.redelivery import RedeliveryReport
from services import redelivery
from store.queries import Store

SHOWN = 20
"""How many workflow ids the confirmation lists before "and N more"."""


def redeliver(
    workflow_id: Annotated[str | None, typer.Argument(help="One event workflow (event-WORKSPACE-EVENT).")] = None,
    webhook: Annotated[str | None, typer.Option(help="Every event whose delivery to this webhook gave up...")] = None,
    since: Annotated[
        datetime | None, typer.Option(help="...first seen at or after this time (UTC if no zone).")
    ] = None,
    until: Annotated[datetime | None, typer.Option(help="...and before this time.")] = None,
    query: Annotated[
        str | None,
        typer.Option(
            help="Every failed event workflow this visibility query matches, e.g. \"WebhookFailedIds = 'wh_1'\"."
        ),
    ] = None,
    reason: Annotated[
        str, typer.Option(help="Why: kept with the reset, shown in the Temporal UI.")
    ] = "redelivery requested",
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before acting.")] = False,
    json_: bool = JsonOption,
) -> None:
    """Re-run failed event workflows: each re-run sends only to the webhooks that never got a 2xx
    for its event, with the same webhook-id, and shows in the Temporal UI as a reset with the reason."""
    if sum(x is not None for x in (workflow_id, webhook, query)) != 1:
        fail("choose one selection: a WORKFLOW_ID, --webhook (with --since/--until), or --query")
    if (since or until) and webhook is None:
        fail("--since and --until go with --webhook")
    settings = Settings()

    async def select(store: Store) -> list[str]:
        if workflow_id is not None:
            return [workflow_id]
        if webhook is not None:
            return await redelivery.by_webhook(store, webhook, since, until)
        return await redelivery.by_query(await connect(), query or "")

    async def main() -> RedeliveryReport | None:
        store = Store.from_url(settings.database_url)
        try:
            workflow_ids = await select(store)
            if not workflow_ids:
                return RedeliveryReport(count=0, workflow_ids=[])
            if not yes:
                listed = "\n".join(f"  {wid}" for wid in workflow_ids[:SHOWN])
                more = f"\n  and {len(workflow_ids) - SHOWN} more" if len(workflow_ids) > SHOWN else ""
                typer.echo(f"{len(workflow_ids)} workflow(s) will be re-run:\n{listed}{more}", err=json_)
                if not await asyncio.to_thread(typer.confirm, "Go on?", err=json_):
                    return None
            return await redelivery.redeliver_all(
                await connect(), store, workflow_ids, reason, task_queue=settings.task_queue, ui_url=settings.ui_url
            )
        finally:
            await store.close()

    try:
        report = asyncio.run(main())
    except ServiceError as err:
        fail(str(err))
    if report is None:
        fail("nothing done", code=1)

    def human() -> None:
        if not report.results:
            typer.echo("nothing to re-run: no failed delivery matches")
            return
        table([(r.workflow_id, r.action, r.detail) for r in report.results], ("workflow", "action", "detail"))

    emit(report, json_, human)
