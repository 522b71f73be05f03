"""What the commands that start a workflow (`send`, `hook test`) print: its id, its UI link, and
with --wait the outcome. Exit code 1 when a delivery gave up."""

from __future__ import annotations

from typing import Any

import typer
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle

from cli.output import emit
from core.temporal import workflow_url
from models.runs import EventOutcome


async def describe_start(
    client: Client, handle: WorkflowHandle[Any, EventOutcome], ui_url: str, wait: bool
) -> dict[str, Any]:
    shown: dict[str, Any] = {"workflow_id": handle.id, "ui_url": workflow_url(ui_url, client.namespace, handle.id)}
    if wait:
        try:
            shown["result"] = (await handle.result()).model_dump(mode="json")
        except WorkflowFailureError as err:
            shown["error"] = str(err.cause)
    return shown


def report_start(shown: dict[str, Any], as_json: bool) -> None:
    def human() -> None:
        typer.echo(f"workflow  {shown['workflow_id']}\nui        {shown['ui_url']}")
        result = shown.get("result")
        if result is not None:
            typer.echo(
                f"result    {result['delivered']} delivered, {result['skipped']} skipped, "
                f"{result['failed']} failed of {result['matched']} matched"
            )
            if result.get("timers"):
                typer.echo(f"timers    {len(result['timers'])} DateTime timer(s) set: {', '.join(result['timers'])}")
            for d in result["deliveries"]:
                typer.echo(f"  {d['webhook_id']}  {d['status']}  after {d['attempts']} attempt(s)  {d['detail']}")
        if "error" in shown:
            typer.echo(f"failed    {shown['error']}")
        answer = shown.get("answer")
        if answer is not None:
            for hop in answer.get("redirects") or []:
                typer.echo(f"redirect  {hop['host']} answered {hop['status_code']}")
            code = f"HTTP {answer['status_code']}" if answer["status_code"] is not None else "no answer"
            typer.echo(f"answer    {code}: {(answer['excerpt'] or answer['error'] or '').strip()[:300]}")
            if answer.get("next_attempt_at"):
                typer.echo(f"retrying  the next attempt is due at {answer['next_attempt_at']}")

    emit(shown, as_json, human)
    raise typer.Exit(1 if "error" in shown else 0)
