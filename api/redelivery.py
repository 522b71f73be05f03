"""Re-sending what failed: one delivery, or a webhook's failed deliveries over a time range."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, status

from api.deps import ClientDep, SettingsDep, StoreDep, WorkspaceDep
from api.errors import TEMPORAL_DOWN, UNKNOWN_ID, answer
from models.redelivery import Redelivery, RedeliveryReport, WebhookRedelivery
from services import redelivery

router = APIRouter(prefix="/workspaces/{workspace_id}", tags=["redelivery"])


Reason = Annotated[str, Body(embed=True, max_length=500)]


@router.post(
    "/deliveries/{delivery_id}/redeliver",
    status_code=status.HTTP_202_ACCEPTED,
    responses=UNKNOWN_ID | TEMPORAL_DOWN | {409: answer("The delivery was delivered: there is nothing to re-send.")},
)
async def redeliver_one(
    store: StoreDep,
    client: ClientDep,
    settings: SettingsDep,
    workspace_id: WorkspaceDep,
    delivery_id: str,
    reason: Reason = "redelivery requested",
) -> Redelivery:
    """Re-run the delivery's event workflow: it sends again to every webhook of that event that
    never got a 2xx (this one included), with the same webhook-id."""
    return await redelivery.redeliver_delivery(
        client, store, workspace_id, delivery_id, reason, task_queue=settings.task_queue, ui_url=settings.ui_url
    )


@router.post(
    "/webhooks/{webhook_id}/redeliver", status_code=status.HTTP_202_ACCEPTED, responses=UNKNOWN_ID | TEMPORAL_DOWN
)
async def redeliver_webhook(
    store: StoreDep,
    client: ClientDep,
    settings: SettingsDep,
    workspace_id: WorkspaceDep,
    webhook_id: str,
    request: WebhookRedelivery,
) -> RedeliveryReport:
    """Re-run every event workflow in which this webhook's delivery gave up, for events first seen
    in [since, until); `dry_run` only says which."""
    workflow_ids = await redelivery.by_webhook(store, webhook_id, request.since, request.until, workspace_id)
    if request.dry_run:
        return RedeliveryReport(count=len(workflow_ids), workflow_ids=workflow_ids, dry_run=True)
    return await redelivery.redeliver_all(
        client, store, workflow_ids, request.reason, task_queue=settings.task_queue, ui_url=settings.ui_url
    )
