"""The delivery log: what the ledger says about each (event, webhook), with its Temporal UI link."""

from __future__ import annotations

from core.errors import Refused
from core.temporal import workflow_url
from models.tables import Delivery, DeliveryPage, DeliveryPublic, DeliveryStatus
from store.queries import Store

MAX_PAGE = 200


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
    if not 1 <= limit <= MAX_PAGE:
        raise Refused(f"must be between 1 and {MAX_PAGE}", "limit")
    await store.get_webhook(webhook_id, workspace_id)
    rows = await store.list_deliveries(webhook_id, status=status, after=cursor, limit=limit + 1)
    items = [public(d, ui_url, namespace) for d in rows[:limit]]
    return DeliveryPage(items=items, next_cursor=items[-1].id if len(rows) > limit else None)


async def get_delivery(
    store: Store, workspace_id: str, delivery_id: str, *, ui_url: str, namespace: str
) -> DeliveryPublic:
    return public(await store.get_delivery(delivery_id, workspace_id), ui_url, namespace)
