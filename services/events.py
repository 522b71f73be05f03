"""Taking an event in from the API or the command line: refused clearly when its id was already
used for other content (the first one wins), otherwise started once, as `publish()` does."""

from __future__ import annotations

from typing import Any

from temporalio.client import Client, WorkflowHandle

from core.errors import Conflict
from models.events import TriggerEvent
from models.runs import EventOutcome
from starter import publish
from store.queries import Store


async def accept_event(
    store: Store, client: Client, task_queue: str, event: TriggerEvent
) -> WorkflowHandle[Any, EventOutcome]:
    first = await store.conflicting(event)
    if first is not None:
        raise Conflict(
            f"event {event.event_id} was first received at {first.received_at:%Y-%m-%d %H:%M:%S} UTC with other "
            "content; the first one is kept, and this one was not delivered",
            "event_id",
        )
    return await publish(client, event, task_queue=task_queue)
