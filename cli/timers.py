"""`webhooks timers list`: pending DateTime timers, from Temporal's visibility."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import typer

from cli.output import JsonOption, emit, table
from cli.started import connected
from core.config import Settings
from core.temporal import workflow_url
from models import search_attributes as sa
from models.payload import TIMER_WORKFLOW_TYPE

timers_app = typer.Typer(help="DateTime triggers' pending timers.", no_args_is_help=True)


def pending_query(webhook: str | None, contact: str | None) -> str:
    clauses = [f"WorkflowType = '{TIMER_WORKFLOW_TYPE}'", "ExecutionStatus = 'Running'"]
    if webhook:
        clauses.append(f"{sa.WEBHOOK_IDS.name} = '{webhook}'")
    if contact:
        clauses.append(f"{sa.CONTACT_ID.name} = '{contact}'")
    return " AND ".join(clauses)


@timers_app.command("list")
def timers_list(
    webhook: Annotated[str | None, typer.Option(help="Only this webhook's timers.")] = None,
    contact: Annotated[str | None, typer.Option(help="Only this contact's timers.")] = None,
    json_: bool = JsonOption,
) -> None:
    """Pending timers, soonest first: which webhook, which contact, when it fires."""
    for value, option in ((webhook, "--webhook"), (contact, "--contact")):
        if value and "'" in value:
            raise typer.BadParameter("must not contain quotes", param_hint=option)
    settings = Settings()

    async def main() -> list[dict[str, Any]]:
        client = await connected()
        found = []
        async for execution in client.list_workflows(pending_query(webhook, contact)):
            attributes = execution.typed_search_attributes
            fire_at = attributes.get(sa.FIRE_AT)
            found.append(
                {
                    "workflow_id": execution.id,
                    "webhook_id": (attributes.get(sa.WEBHOOK_IDS) or [""])[0],
                    "contact_id": attributes.get(sa.CONTACT_ID),
                    "fire_at": fire_at.isoformat() if fire_at else None,
                    "ui_url": workflow_url(settings.ui_url, client.namespace, execution.id),
                }
            )
        return sorted(found, key=lambda t: t["fire_at"] or "~")

    found = asyncio.run(main())
    emit(
        found,
        json_,
        lambda: table(
            [(t["fire_at"] or "(planning)", t["webhook_id"], t["contact_id"], t["workflow_id"]) for t in found],
            ["FIRES AT (UTC)", "WEBHOOK", "CONTACT", "WORKFLOW"],
        ),
    )
