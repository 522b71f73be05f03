"""Re-running failed deliveries. The event's workflow is reset to its first workflow task with the
reason (visible in the Temporal UI, the new run linked to the old): the new run finds the ledger
and sends only to the webhooks that never got a 2xx, with the same `webhook-id`.

Three selections: one workflow id; one webhook's failed deliveries over a time range (from the
ledger); every failed event workflow matching a Temporal visibility query.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType
from temporalio.api.workflowservice.v1 import ResetWorkflowExecutionRequest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from core.errors import Conflict, NotFound, Refused
from core.temporal import workflow_url
from models.payload import WORKFLOW_TYPE, workflow_id_for
from models.redelivery import Redelivery, RedeliveryAction, RedeliveryReport
from models.tables import DeliveryStatus, StoredEvent
from starter import publish
from store.queries import Store

FAILED_QUERY = f"WorkflowType = '{WORKFLOW_TYPE}' AND ExecutionStatus = 'Failed'"
RERUNNABLE = {
    WorkflowExecutionStatus.FAILED,
    WorkflowExecutionStatus.TERMINATED,
    WorkflowExecutionStatus.TIMED_OUT,
    WorkflowExecutionStatus.CANCELED,
}


async def by_query(client: Client, query: str) -> list[str]:
    """Every failed event workflow that the visibility query also matches."""
    full = f"{FAILED_QUERY} AND ({query})" if query.strip() else FAILED_QUERY
    try:
        return sorted({execution.id async for execution in client.list_workflows(full)})
    except RPCError as err:
        if err.status == RPCStatusCode.INVALID_ARGUMENT:
            raise Refused(f"the visibility query is not valid: {err.message}", "query") from None
        raise


async def by_webhook(
    store: Store, webhook_id: str, since: datetime | None, until: datetime | None, workspace_id: str | None = None
) -> list[str]:
    """The event workflows in which this webhook's delivery gave up, for events first seen in the range."""
    await store.get_webhook(webhook_id, workspace_id)
    failed = await store.failed_deliveries(webhook_id, utc(since), utc(until))
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
    client: Client, store: Store, workflow_ids: list[str], reason: str, *, task_queue: str, ui_url: str
) -> RedeliveryReport:
    results = [
        await redeliver(client, store, wid, reason, task_queue=task_queue, ui_url=ui_url) for wid in workflow_ids
    ]
    return RedeliveryReport(count=len(workflow_ids), workflow_ids=workflow_ids, results=results)


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
    raise NotFound(f"no stored event for workflow {workflow_id}", "workflow_id")


def utc(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)
