"""What the commands that start a workflow (`send`, `hook test`) print: its id, its UI link, and
with --wait the outcome. `send --wait` prints the id and the link at once, then each delivery's
progress from the ledger as it changes (attempts, the next one's time); Ctrl-C stops the waiting,
not the delivery, and says how to follow it. Exit code 1 when a delivery gave up, 130 when the wait
was interrupted."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NoReturn

import typer
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle

from activities.outage import outage_cause
from cli.output import emit, fail
from core.schedule import format_delay
from core.temporal import connect, workflow_url
from models.runs import EventOutcome
from models.tables import Delivery, DeliveryStatus, utcnow
from store.db import STORE_UNAVAILABLE
from store.queries import Store

POLL_EVERY = 1.0
"""Seconds between two reads of the ledger while waiting."""
INTERRUPTED = 130
"""The exit code of a wait stopped by Ctrl-C (128 + SIGINT), as shells report it."""


async def connected() -> Client:
    """The Temporal client; one line, not the SDK's traceback, when the server cannot be reached."""
    try:
        return await connect()
    except RuntimeError as err:
        fail(f"cannot reach Temporal (TEMPORAL_ADDRESS, default localhost:7233): {err}")


async def describe_start(client: Client, handle: WorkflowHandle[Any, EventOutcome], ui_url: str) -> dict[str, Any]:
    return {"workflow_id": handle.id, "ui_url": workflow_url(ui_url, client.namespace, handle.id)}


async def outcome_of(handle: WorkflowHandle[Any, EventOutcome]) -> dict[str, Any]:
    """The workflow's result, or the failure it ended with."""
    try:
        return {"result": (await handle.result()).model_dump(mode="json")}
    except WorkflowFailureError as err:
        return {"error": str(err.cause)}


def progress_line(row: Delivery) -> str | None:
    """What the ledger says of a delivery, once it has something to say."""
    attempts = row.attempts
    match row.status:
        case DeliveryStatus.PENDING if attempts and row.next_attempt_at:
            said = f"attempt {attempts} failed: {row.last_error}; attempt {attempts + 1} {due(row.next_attempt_at)}"
        case DeliveryStatus.THROTTLED if row.next_attempt_at:
            said = f"held back: {row.held_reason}; its turn {due(row.next_attempt_at)}"
        case DeliveryStatus.DELIVERED:
            said = f"delivered after {attempts} attempt{'s' if attempts != 1 else ''}: HTTP {row.last_status_code}"
        case DeliveryStatus.FAILED:
            said = f"failed for good: {row.last_error}"
        case DeliveryStatus.SKIPPED:
            said = f"skipped: {row.last_error}"
        case _:
            return None
    return f"progress  {row.webhook_id}  {said}"


def due(when: datetime) -> str:
    return f"at {when:%H:%M:%S} UTC (in {format_delay(max(when - utcnow(), timedelta(0)))})"


@dataclass
class Followed:
    """The workflow a wait follows, for the words Ctrl-C leaves: known once the event is published."""

    workspace_id: str
    contact_id: str
    event_type: str
    shown: dict[str, Any] | None = None


async def wait_with_progress(
    handle: WorkflowHandle[Any, EventOutcome], store: Store, workspace_id: str, event_id: str
) -> dict[str, Any]:
    """The outcome, printing a line each time the ledger says something new of a delivery."""
    typer.echo("waiting   for the deliveries (Ctrl-C stops the waiting, not the delivery)")
    outcome = asyncio.ensure_future(outcome_of(handle))
    seen: dict[str, tuple[object, ...]] = {}
    while True:
        ended = outcome.done()  # then one last read: the ledger has every delivery's end by now
        try:
            rows = await store.deliveries_of_event(workspace_id, event_id)
        except STORE_UNAVAILABLE as err:  # a store this machine cannot read: the result will still come
            typer.echo(f"progress  not shown, the ledger cannot be read ({outage_cause(err)}); waiting for the result")
            return await outcome
        for row in rows:
            state = (row.status, row.attempts, row.next_attempt_at, row.held_reason)
            line = progress_line(row) if seen.get(row.webhook_id) != state else None
            if line is not None:
                typer.echo(line)
            seen[row.webhook_id] = state
        if ended:
            return outcome.result()
        await asyncio.wait({outcome}, timeout=POLL_EVERY)


def program() -> str:
    """The command as the user ran it, to paste back: `.venv/bin/webhooks` from the project's
    folder, `webhooks` when found on PATH (which the shell hands over as an absolute path)."""
    typed = sys.argv[0]
    if not typed.endswith("webhooks"):
        return "webhooks"
    return "webhooks" if os.path.isabs(typed) and shutil.which("webhooks") == typed else typed


def stopped_waiting(followed: Followed) -> NoReturn:
    """Ctrl-C: what goes on, and where to follow it."""
    if followed.shown is None:
        said = "interrupted before the event was published; sending it again is safe (one workflow per event id)"
    else:
        said = (
            f"stopped waiting; the delivery goes on in Temporal ({followed.shown['workflow_id']}). Follow it:\n"
            f"  {followed.shown['ui_url']}\n"
            f"  {program()} deliveries list -w {followed.workspace_id} --contact {followed.contact_id}"
            f" --event {followed.event_type}"
        )
    typer.echo(said, err=True)
    raise typer.Exit(INTERRUPTED)


def print_start(shown: dict[str, Any]) -> None:
    typer.echo(f"workflow  {shown['workflow_id']}\nui        {shown['ui_url']}")
    if "note" in shown:
        typer.echo(f"note      {shown['note']}")


def report_start(shown: dict[str, Any], as_json: bool, *, announced: bool = False) -> NoReturn:
    """Print what the command got (all of it with --json; without, the start unless `announced`
    already) and exit: 1 if it failed."""

    def human() -> None:
        if not announced:
            print_start(shown)
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
