"""`webhooks redeliver`: re-send what failed, for one workflow, one webhook or one workspace over a
time range, or every failed event workflow a visibility query matches (less those the ledger says
were delivered since); says how many first and asks."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated

import typer

from cli.output import JsonOption, emit, fail, table
from cli.started import connected
from core.config import Settings
from core.errors import ServiceError
from models.redelivery import RedeliveryReport
from services import redelivery
from store.queries import Store

SHOWN = 20
"""How many workflow ids the confirmation lists before "and N more"."""


def redeliver(
    workflow_id: Annotated[str | None, typer.Argument(help="One event workflow (event-WORKSPACE-EVENT).")] = None,
    webhook: Annotated[str | None, typer.Option(help="Every event whose delivery to this webhook gave up...")] = None,
    workspace: Annotated[
        str | None,
        typer.Option("--workspace", "-w", help="...or whose delivery to any webhook of this workspace gave up..."),
    ] = None,
    since: Annotated[
        datetime | None,
        typer.Option(parser=iso_time, metavar="TIME", help="...first seen at or after this time (UTC if no zone)."),
    ] = None,
    until: Annotated[
        datetime | None, typer.Option(parser=iso_time, metavar="TIME", help="...and before this time.")
    ] = None,
    query: Annotated[
        str | None,
        typer.Option(
            help="Every failed event workflow this visibility query matches, e.g. \"WebhookFailedIds = 'wh_1'\"; "
            "those the ledger says were delivered since are left alone, and named."
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
    from_ledger = webhook is not None or workspace is not None
    if sum((workflow_id is not None, from_ledger, query is not None)) != 1:
        fail("choose one selection: a WORKFLOW_ID, --webhook and/or --workspace (with --since/--until), or --query")
    if (since or until) and not from_ledger:
        fail("--since and --until go with --webhook or --workspace")
    settings = Settings()

    async def select(store: Store) -> redelivery.Selection:
        if workflow_id is not None:
            return redelivery.Selection(await redelivery.by_id(await connected(), store, workflow_id))
        if webhook is not None:
            return redelivery.Selection(await redelivery.by_webhook(store, webhook, since, until, workspace))
        if workspace is not None:
            return redelivery.Selection(await redelivery.by_workspace(store, workspace, since, until))
        return await redelivery.by_query(await connected(), store, query or "", ui_url=settings.ui_url)

    async def main() -> RedeliveryReport | None:
        store = Store.from_url(settings.database_url)
        try:
            selected = await select(store)
            if not selected.workflow_ids:
                return RedeliveryReport(count=0, workflow_ids=[], skipped=selected.skipped)
            if not yes:
                listed = "\n".join(f"  {wid}" for wid in selected.workflow_ids[:SHOWN])
                more = (
                    f"\n  and {len(selected.workflow_ids) - SHOWN} more" if len(selected.workflow_ids) > SHOWN else ""
                )
                left = f"\n{skipped_line(len(selected.skipped))}" if selected.skipped else ""
                typer.echo(f"{len(selected.workflow_ids)} workflow(s) will be re-run:\n{listed}{more}{left}", err=json_)
                if not await asyncio.to_thread(typer.confirm, "Go on?", err=json_):
                    return None
            return await redelivery.redeliver_all(
                await connected(), store, selected.workflow_ids, reason,
                task_queue=settings.task_queue, ui_url=settings.ui_url, skipped=selected.skipped,
            )  # fmt: skip
        finally:
            await store.close()

    try:
        report = asyncio.run(main())
    except ServiceError as err:
        fail(str(err))
    if report is None:
        fail("nothing done", code=1)

    def human() -> None:
        if report.results:
            table([(r.workflow_id, r.action, r.detail) for r in report.results], ("workflow", "action", "detail"))
        else:
            typer.echo("nothing to re-run: no failed delivery matches")
        if report.skipped:
            typer.echo(skipped_line(len(report.skipped)))
            table([(r.workflow_id, r.detail) for r in report.skipped], ("workflow", "since it failed"))

    emit(report, json_, human)


def iso_time(value: str) -> datetime:
    """A time as ISO 8601 writes it, with or without a zone (Z, +07:00) or fractions of a second."""
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a time: expected ISO 8601, e.g. 2026-11-24T00:00:00Z") from None


def skipped_line(count: int) -> str:
    return f"{count} failed workflow(s) the query matched left alone: the ledger has none of their deliveries failed"
