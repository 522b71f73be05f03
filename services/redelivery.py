"""Re-running failed deliveries. The event's workflow is reset to its first workflow task with the
reason (visible in the Temporal UI, the new run linked to the old): the new run finds the ledger
and sends only to the webhooks that never got a 2xx, with the same `webhook-id`.

Four selections: one workflow id; one webhook's or one workspace's failed deliveries over a time
range (from the ledger); every failed event workflow matching a Temporal visibility query, less
those the ledger says were delivered since. Visibility keeps each run's status as it closed: after
a re-run the failed run still matches `ExecutionStatus = 'Failed'`, and only the ledger (one row
per delivery, updated by every run) says whether anything is still undelivered.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType
from temporalio.api.workflowservice.v1 import ResetWorkflowExecutionRequest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.client import WorkflowExecution as Run
from temporalio.service import RPCError, RPCStatusCode

from core.errors import Conflict, NotFound, Refused
from core.temporal import workflow_url
from models import search_attributes as sa
from models.payload import WORKFLOW_TYPE, workflow_id_for
from models.redelivery import Redelivery, RedeliveryAction, RedeliveryReport
from models.tables import Delivery, DeliveryStatus, StoredEvent
from starter import publish
from store.queries import Store

FAILED_QUERY = f"WorkflowType = '{WORKFLOW_TYPE}' AND ExecutionStatus = 'Failed'"
RERUNNABLE = {
    WorkflowExecutionStatus.FAILED,
    WorkflowExecutionStatus.TERMINATED,
    WorkflowExecutionStatus.TIMED_OUT,
    WorkflowExecutionStatus.CANCELED,
}


@dataclass(frozen=True)
class Selection:
    """What a visibility query selected: the event workflows to re-run, and those it matched whose
    deliveries the ledger says need nothing any more (delivered since, by a later run)."""

    workflow_ids: list[str]
    skipped: list[Redelivery] = field(default_factory=list)


async def by_query(client: Client, store: Store, query: str, *, ui_url: str = "") -> Selection:
    """Every failed event workflow that the visibility query also matches, and that the ledger says
    still has a delivery that gave up."""
    full = f"{FAILED_QUERY} AND ({query})" if query.strip() else FAILED_QUERY
    failed_runs: dict[str, list[Run]] = {}
    try:
        async for run in client.list_workflows(full):
            failed_runs.setdefault(run.id, []).append(run)
    except RPCError as err:
        if err.status == RPCStatusCode.INVALID_ARGUMENT:
            raise Refused(f"the visibility query is not valid: {err.message}", "query") from None
        raise
    selection = Selection(workflow_ids=[])
    for workflow_id, runs in sorted(failed_runs.items()):
        rows = await ledger_of(store, workflow_id, runs[0])
        if not rows or any(row.status == DeliveryStatus.FAILED for row in rows):  # no rows: the re-run decides
            selection.workflow_ids.append(workflow_id)
        else:
            selection.skipped.append(await left_alone(client, workflow_id, runs, rows, ui_url))
    return selection


async def left_alone(
    client: Client, workflow_id: str, runs: list[Run], rows: Sequence[Delivery], ui_url: str
) -> Redelivery:
    """A failed workflow left alone: what became of the deliveries its failed runs gave up on, and
    which run did it."""
    gave_up = {
        webhook_id for run in runs for webhook_id in run.typed_search_attributes.get(sa.FAILED_WEBHOOK_IDS) or []
    }
    return Redelivery(
        workflow_id=workflow_id,
        action=RedeliveryAction.SKIPPED,
        ui_url=workflow_url(ui_url, client.namespace, workflow_id),
        detail=f"{since_it_failed(rows, gave_up)}; by {await latest_run(client, workflow_id)}",
    )


async def ledger_of(store: Store, workflow_id: str, run: Run) -> Sequence[Delivery]:
    """The ledger's rows of an event workflow: its workspace is a search attribute of every run, and
    the event id the rest of its id (which split alone cannot tell apart when ids hold '-')."""
    workspace_id = run.typed_search_attributes.get(sa.WORKSPACE_ID)
    if workspace_id is None:
        return []
    return await store.deliveries_of_event(workspace_id, workflow_id.removeprefix(f"event-{workspace_id}-"))


def since_it_failed(rows: Sequence[Delivery], gave_up: Collection[str]) -> str:
    """What the ledger says now of the deliveries a failed run gave up on (all of the event's
    when the run's search attribute does not name them)."""
    named = [row for row in rows if row.webhook_id in gave_up] or rows
    said = []
    for row in named:
        if row.status == DeliveryStatus.DELIVERED and row.delivered_at is not None:
            said.append(f"{row.webhook_id} delivered since, at {row.delivered_at:%Y-%m-%d %H:%M:%S} UTC")
        else:
            said.append(f"{row.webhook_id} {row.status}" + (f" ({row.last_error})" if row.last_error else ""))
    return "; ".join(said)


async def latest_run(client: Client, workflow_id: str) -> str:
    """The run that came after the failed one: a reset (by `webhooks redeliver`, the console, the
    Temporal CLI) or a new start of the same event."""
    described = await client.get_workflow_handle(workflow_id).describe()
    extended = described.raw_description.workflow_extended_info
    how = "a reset" if extended.HasField("last_reset_time") else "a new run"
    return f"{how} (run {described.run_id}, {described.status.name.lower() if described.status else 'unknown'})"


async def by_id(client: Client, store: Store, workflow_id: str) -> list[str]:
    """One event workflow, if Temporal knows it or, past its retention, the store has its event."""
    try:
        await client.get_workflow_handle(workflow_id).describe()
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        await stored_event(store, workflow_id)
    return [workflow_id]


async def by_webhook(
    store: Store, webhook_id: str, since: datetime | None, until: datetime | None, workspace_id: str | None = None
) -> list[str]:
    """The event workflows in which this webhook's delivery gave up, for events first seen in the range."""
    await store.get_webhook(webhook_id, workspace_id)
    return workflows_of(await store.failed_deliveries(webhook_id=webhook_id, since=utc(since), until=utc(until)))


async def by_workspace(store: Store, workspace_id: str, since: datetime | None, until: datetime | None) -> list[str]:
    """The event workflows in which a delivery of the workspace gave up, for events first seen in the range."""
    return workflows_of(await store.failed_deliveries(workspace_id=workspace_id, since=utc(since), until=utc(until)))


def workflows_of(failed: Sequence[Delivery]) -> list[str]:
    """Each failed delivery's event workflow, once, in the order of the deliveries."""
    return list(dict.fromkeys(workflow_id_for(d.workspace_id, d.event_id) for d in failed))


async def redeliver(
    client: Client, store: Store, workflow_id: str, reason: str, *, task_queue: str, ui_url: str
) -> Redelivery:
    """Re-run one event workflow so that it sends what was not delivered."""
    handle = client.get_workflow_handle(workflow_id)
    link = workflow_url(ui_url, client.namespace, workflow_id)
    try:
        described = await handle.describe()
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        return await restart(client, store, workflow_id, task_queue, link)
    if described.status == WorkflowExecutionStatus.RUNNING:
        return Redelivery(
            workflow_id=workflow_id, action=RedeliveryAction.SKIPPED, ui_url=link,
            detail="still running: its deliveries are still being tried",
        )  # fmt: skip
    if described.status not in RERUNNABLE:
        return Redelivery(
            workflow_id=workflow_id, action=RedeliveryAction.SKIPPED, ui_url=link,
            detail="completed: every delivery succeeded or was skipped",
        )  # fmt: skip
    completed = EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
    first_task = None
    async for event in handle.fetch_history_events():
        if event.event_type == completed:
            first_task = event.event_id
            break
    if first_task is None:  # it failed before its first task completed (malformed input): nothing to re-send
        return Redelivery(
            workflow_id=workflow_id, action=RedeliveryAction.SKIPPED, ui_url=link,
            detail="it never got past its first task; nothing was matched",
        )  # fmt: skip
    response = await client.workflow_service.reset_workflow_execution(
        ResetWorkflowExecutionRequest(
            namespace=client.namespace,
            workflow_execution=WorkflowExecution(workflow_id=workflow_id),
            reason=f"redeliver: {reason}",
            workflow_task_finish_event_id=first_task,
            request_id=str(uuid.uuid4()),
        )
    )
    return Redelivery(
        workflow_id=workflow_id, action=RedeliveryAction.RESET, run_id=response.run_id, ui_url=link,
        detail=f"reset to its first task ({reason}); the new run sends only what was not delivered",
    )  # fmt: skip


async def redeliver_delivery(
    client: Client, store: Store, workspace_id: str, delivery_id: str, reason: str, *, task_queue: str, ui_url: str
) -> Redelivery:
    """Re-run a delivery's event workflow: it sends again to every webhook of that event that never
    got a 2xx (this one included), with the same webhook-id. A delivered one is refused."""
    delivery = await store.get_delivery(delivery_id, workspace_id)
    if delivery.status == DeliveryStatus.DELIVERED:
        raise Conflict(f"delivery {delivery_id} was delivered; nothing to re-send", "delivery_id")
    return await redeliver(
        client, store, workflow_id_for(workspace_id, delivery.event_id), reason, task_queue=task_queue, ui_url=ui_url
    )


async def redeliver_all(
    client: Client,
    store: Store,
    workflow_ids: list[str],
    reason: str,
    *,
    task_queue: str,
    ui_url: str,
    skipped: Sequence[Redelivery] = (),
) -> RedeliveryReport:
    """Re-run each workflow; `skipped`: those a selection left alone, reported beside them."""
    results = [
        await redeliver(client, store, wid, reason, task_queue=task_queue, ui_url=ui_url) for wid in workflow_ids
    ]
    return RedeliveryReport(count=len(workflow_ids), workflow_ids=workflow_ids, results=results, skipped=list(skipped))


async def restart(client: Client, store: Store, workflow_id: str, task_queue: str, link: str) -> Redelivery:
    """A workflow past the namespace's retention, or a DateTime fire (delivered inside its timer's
    workflow): start an event workflow from the stored event."""
    stored = await stored_event(store, workflow_id)
    handle = await publish(client, stored.body, task_queue=task_queue)
    return Redelivery(
        workflow_id=workflow_id, action=RedeliveryAction.STARTED, run_id=handle.result_run_id, ui_url=link,
        detail="its history is gone (past retention): started again from the stored event",
    )  # fmt: skip


async def stored_event(store: Store, workflow_id: str) -> StoredEvent:
    """The event of `event-{workspace_id}-{event_id}`; ids may hold '-', so each split is tried."""
    rest = workflow_id.removeprefix("event-")
    for at in (i for i, char in enumerate(rest) if char == "-"):
        found = await store.find_event(rest[:at], rest[at + 1 :])
        if found is not None:
            return found
    raise NotFound(
        f"no event workflow {workflow_id}: Temporal does not know it, and no event of it is stored", "workflow_id"
    )


def utc(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)
