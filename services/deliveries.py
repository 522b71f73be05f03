"""The delivery log: what the ledger says about each (event, webhook), with its Temporal UI link."""

from __future__ import annotations

from core.temporal import workflow_url
from models.tables import Delivery, DeliveryPage, DeliveryPublic, DeliveryStatus
from services.paging import rows_for, split
from store.queries import Store


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


async def get_delivery(
    store: Store, workspace_id: str, delivery_id: str, *, ui_url: str, namespace: str
) -> DeliveryPublic:
    return public(await store.get_delivery(delivery_id, workspace_id), ui_url, namespace)
