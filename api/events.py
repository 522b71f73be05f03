"""Event intake, for platforms that cannot use a Temporal SDK: the same start as `publish()`."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, status

from api.deps import ClientDep, KeyDep, SettingsDep, StoreDep
from api.errors import TEMPORAL_DOWN, Answers, answer
from api.webhooks import Started
from core.temporal import workflow_url
from models.events import MAX_EVENT_BYTES, parse_event
from services.access import authorize
from services.events import accept_event

router = APIRouter(tags=["events"])
REFUSED_EVENTS: Answers = TEMPORAL_DOWN | {
    409: answer("The event id was used in this workspace for an event with other content (the first one is kept)."),
    413: answer(f"The body is larger than an event may be ({MAX_EVENT_BYTES // 1024} KiB)."),
}


async def read_bounded(request: Request, limit: int) -> bytes:
    """The body, refusing one over `limit` bytes before reading it all in (or as soon as it is
    known to be too large, when no Content-Length was sent)."""
    too_large = HTTPException(413, f"event larger than {limit // 1024} KiB")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large
    return bytes(body)


@router.post(
    "/events",
    status_code=status.HTTP_202_ACCEPTED,
    response_model_exclude_none=True,
    responses=REFUSED_EVENTS,
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}}},
)
async def publish_event(
    request: Request, key: KeyDep, store: StoreDep, client: ClientDep, settings: SettingsDep
) -> Started:
    """Validate a trigger event and start its workflow, once per (workspace, event id): sending it
    again answers with the same workflow; sending other content under a used id answers 409. The
    key must cover the event's workspace."""
    event = parse_event(await read_bounded(request, MAX_EVENT_BYTES))
    authorize(key, event.workspace_id)
    handle = await accept_event(store, client, settings.task_queue, event)
    return Started(workflow_id=handle.id, ui_url=workflow_url(settings.ui_url, client.namespace, handle.id))
