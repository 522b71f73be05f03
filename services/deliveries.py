"""The delivery log: what the ledger says about each (event, webhook), with its Temporal UI link."""

from __future__ import annotations

from collections.abc import Sequence

from core.errors import Refused
from core.temporal import workflow_url
from models.events import EVENT_TYPES
from models.tables import Delivery, DeliveryPage, DeliveryPublic, DeliveryStatus
from services.paging import rows_for, split
from store.queries import DeliveryFilter, Store


def public(delivery: Delivery, ui_url: str, namespace: str) -> DeliveryPublic:
    return DeliveryPublic.model_validate(
        delivery,
        from_attributes=True,
        update={"workflow_url": workflow_url(ui_url, namespace, delivery.workflow_id)},
    )


async def list_deliveries(
    store: Store,
    workspace_id: str,
    webhook_id: str,
    *,
    ui_url: str,
    namespace: str,
    status: DeliveryStatus | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> DeliveryPage:
    wanted = rows_for(limit)
    await store.get_webhook(webhook_id, workspace_id)
    page, next_cursor = split(await store.list_deliveries(webhook_id, status=status, after=cursor, limit=wanted), limit)
    return DeliveryPage(items=[public(d, ui_url, namespace) for d in page], next_cursor=next_cursor)


async def list_workspace_deliveries(
    store: Store,
    workspace_id: str,
    *,
    ui_url: str,
    namespace: str,
    status: DeliveryStatus | Sequence[DeliveryStatus] | None = None,
    webhook_id: str | None = None,
    event_type: str | None = None,
    contact_id: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> DeliveryPage:
    """Every webhook's deliveries in the workspace, newest first, narrowed by any of the filters;
    `status` takes one status or several. `status=failed` is what is still undelivered after
    giving up (the schedule ran out, a 410, a body template that cannot fit the event): a delivery
    redelivered since is `delivered`, or `pending` while its re-run is at it, and is not listed.
    `skipped` (the webhook was off or deleted at its attempt) is not a failure: ask for it by name."""
    wanted = rows_for(limit)
    if event_type is not None and event_type not in EVENT_TYPES:
        raise Refused(f"unknown event type {event_type!r}; expected one of {', '.join(EVENT_TYPES)}", "event_type")
    statuses = [] if status is None else [status] if isinstance(status, DeliveryStatus) else list(status)
    narrowed = DeliveryFilter(statuses=statuses, webhook_id=webhook_id, event_type=event_type, contact_id=contact_id)
    rows = await store.list_workspace_deliveries(workspace_id, narrowed, after=cursor, limit=wanted)
    page, next_cursor = split(rows, limit)
    return DeliveryPage(items=[public(d, ui_url, namespace) for d in page], next_cursor=next_cursor)


async def get_delivery(
    store: Store, workspace_id: str, delivery_id: str, *, ui_url: str, namespace: str
) -> DeliveryPublic:
    return public(await store.get_delivery(delivery_id, workspace_id), ui_url, namespace)
