"""Taking an event in from the API or the command line: refused clearly when its id was already
used for other content (the first one wins), otherwise started once, as `publish()` does."""

from __future__ import annotations

from typing import Any

from temporalio.client import Client, WorkflowHandle

from core.errors import Conflict
from models.events import EventConflict, TriggerEvent
from models.runs import EventOutcome
from starter import publish
from store.queries import Store, first_received


async def accept_event(
    store: Store, client: Client, task_queue: str, event: TriggerEvent
) -> WorkflowHandle[Any, EventOutcome]:
    admission = await store.admission(event)
    try:
        if admission.conflict is not None:
            raise EventConflict(event.event_id, first_received(admission.conflict))
        return await publish(client, event, task_queue=task_queue, eager=True, webhook_ids=admission.webhook_ids)
    except EventConflict as err:
        raise Conflict(str(err), err.field) from None
