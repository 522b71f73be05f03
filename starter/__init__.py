"""What the platform imports to publish trigger events: validate, name the workflow, start it once.

It knows the workflow's name, id scheme and input model, and nothing of the activities.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError

from models import search_attributes as sa
from models.events import EventBase, EventConflict, InvalidEvent, TriggerEvent, parse_event, same_content
from models.payload import WORKFLOW_TYPE, workflow_id_for
from models.runs import EventOutcome

__all__ = ["EventConflict", "InvalidEvent", "publish", "summary_of"]


async def publish(
    client: Client,
    event: TriggerEvent | Mapping[str, Any] | str | bytes,
    *,
    task_queue: str = "webhooks",
    eager: bool = False,
    webhook_ids: Sequence[str] | None = None,
) -> WorkflowHandle[Any, EventOutcome]:
    """Start `TriggerEventWorkflow` for an event, idempotently.

    The workflow id is `event-{workspace_id}-{event_id}`: publishing the same event again, while it
    runs or after it completed, returns the existing workflow and delivers nothing twice. After a
    failed run, publishing it again re-runs it, and the ledger sends only what was not delivered.
    Raises `InvalidEvent`, naming the field, for an event that does not fit the contract, and
    `EventConflict` for an event id already published with other content (the first one stands).
    `eager` asks the server to hand the first workflow task straight to a worker sharing this
    client (the API's intake in `webhooks dev`); without one it is a plain start. `webhook_ids`, the
    webhooks the event matches when the caller knows them (the API's intake reads them from the
    store), are set as `WebhookIds` at start, and the workflow need not upsert them (one action less).
    """
    if isinstance(event, EventBase):  # checked again: a model built in code skipped the size rule
        event = event.model_dump(mode="json", exclude_unset=True)
    parsed = parse_event(dict(event) if isinstance(event, Mapping) else event)
    workflow_id = workflow_id_for(parsed.workspace_id, parsed.event_id)
    try:
        return await client.start_workflow(
            WORKFLOW_TYPE,
            # The event as received (fields it left out stay out), exactly what another SDK sends.
            parsed.model_dump(mode="json", exclude_unset=True),
            id=workflow_id,
            task_queue=task_queue,
            result_type=EventOutcome,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
            # Not USE_EXISTING: an existing workflow's event is compared with this one first.
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(sa.EVENT_TYPE, parsed.type),
                    SearchAttributePair(sa.WORKSPACE_ID, parsed.workspace_id),
                    SearchAttributePair(sa.CONTACT_ID, parsed.contact.id),
                ]
                + ([] if webhook_ids is None else [SearchAttributePair(sa.WEBHOOK_IDS, sa.fitting(list(webhook_ids)))])
            ),
            static_summary=summary_of(parsed),
            request_eager_start=eager,
        )
    except WorkflowAlreadyStartedError:
        handle = client.get_workflow_handle(workflow_id, result_type=EventOutcome)
        first = await first_input(client, handle)
        if first is not None and not same_content(first, parsed):
            raise EventConflict(parsed.event_id, "already published") from None
        return handle


async def first_input(client: Client, handle: WorkflowHandle[Any, Any]) -> dict[str, Any] | None:
    """The event a workflow was started with (its latest run's), as JSON data."""
    async for event in handle.fetch_history_events(page_size=1):
        payloads = event.workflow_execution_started_event_attributes.input.payloads
        if payloads:
            [value] = await client.data_converter.decode(payloads[:1], [dict])
            return dict(value)
        break
    return None


def summary_of(event: TriggerEvent) -> str:
    """Type, workspace and contact id: what identifies an event without personal data."""
    return f"{event.type} in workspace {event.workspace_id} for contact {event.contact.id}"
