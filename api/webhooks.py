"""Webhooks: the list with its toggles, create, change, test, rotate, and the delivery log."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, status
from pydantic import BaseModel

from api.deps import ClientDep, SettingsDep, StoreDep, WorkspaceDep
from api.errors import TEMPORAL_DOWN, UNKNOWN_ID, Answers, answer
from core.temporal import workflow_url
from models.preview import ReceiverAnswer, RequestPreview
from models.runs import EventOutcome
from models.stats import WebhookStats
from models.tables import (
    BasicAuth,
    BearerAuth,
    DeliveryPage,
    DeliveryPublic,
    DeliveryStatus,
    WebhookCreate,
    WebhookPublic,
    WebhookUpdate,
    WebhookWithSecret,
)
from services import deliveries, stats
from services import webhooks as service

router = APIRouter(prefix="/workspaces/{workspace_id}", tags=["webhooks"])
Limit = Annotated[int, Query(ge=1, le=200)]
NAME_TAKEN: Answers = {
    409: answer("A webhook of that name is in the same folder already (whatever the case of its letters).")
}


class Started(BaseModel):
    workflow_id: str
    ui_url: str
    result: EventOutcome | None = None
    error: str | None = None
    answer: ReceiverAnswer | None = None
    """With `wait`: what the receiver answered (status code, the start of its answer)."""
    note: str | None = None
    """A test send to a webhook that is off: that it is recorded as skipped, not sent."""


class Secret(BaseModel):
    secret: str
    previous_secret_expires_at: Any = None


class Secrets(Secret):
    auth: BasicAuth | BearerAuth | None = None
    """The receiver's credentials in clear: this answer is the only one that shows them."""


def public(hook: Any) -> WebhookPublic:
    return WebhookPublic.of(hook)


@router.get("/webhooks", responses=UNKNOWN_ID)
async def list_webhooks(
    store: StoreDep,
    workspace_id: WorkspaceDep,
    folder_id: str | None = None,
    event_type: str | None = None,
    enabled: bool | None = None,
    cursor: str | None = None,
    limit: Limit = 50,
) -> service.WebhookShownPage:
    """Oldest first; `next_cursor` continues the list. Each webhook says how many of its
    deliveries are `waiting` (held back now, status `throttled`)."""
    return await service.list_webhooks(
        store,
        workspace_id,
        folder_id=folder_id,
        event_type=event_type,
        enabled=enabled,
        cursor=cursor,
        limit=limit,
    )


@router.post("/webhooks", status_code=status.HTTP_201_CREATED, responses=UNKNOWN_ID | NAME_TAKEN)
async def create_webhook(
    store: StoreDep, settings: SettingsDep, workspace_id: WorkspaceDep, body: WebhookCreate
) -> WebhookWithSecret:
    """Answers with the signing secret; `GET .../secret` shows it again."""
    hook = await service.create_webhook(store, workspace_id, body, allow_private=settings.allow_private_urls)
    return WebhookWithSecret.of(hook)


@router.get("/webhooks/{webhook_id}", responses=UNKNOWN_ID)
async def show_webhook(store: StoreDep, workspace_id: WorkspaceDep, webhook_id: str) -> service.WebhookShown:
    """The webhook, and how many of its deliveries are `waiting` (held back now: status
    `throttled`, `GET .../deliveries?status=throttled` lists them with their `held_reason`)."""
    return await service.show_webhook(store, workspace_id, webhook_id)


@router.patch("/webhooks/{webhook_id}", responses=UNKNOWN_ID | NAME_TAKEN)
async def update_webhook(
    store: StoreDep, settings: SettingsDep, workspace_id: WorkspaceDep, webhook_id: str, body: WebhookUpdate
) -> WebhookPublic:
    hook = await service.update_webhook(
        store, workspace_id, webhook_id, body, allow_private=settings.allow_private_urls
    )
    return public(hook)


@router.delete("/webhooks/{webhook_id}", responses=UNKNOWN_ID)
async def delete_webhook(store: StoreDep, workspace_id: WorkspaceDep, webhook_id: str) -> dict[str, object]:
    await service.delete_webhook(store, workspace_id, webhook_id)
    return {"id": webhook_id, "deleted": True}


@router.post("/webhooks/{webhook_id}/enable", responses=UNKNOWN_ID)
async def enable_webhook(store: StoreDep, workspace_id: WorkspaceDep, webhook_id: str) -> WebhookPublic:
    return public(await service.set_enabled(store, workspace_id, webhook_id, True, None))


@router.post("/webhooks/{webhook_id}/disable", responses=UNKNOWN_ID)
async def disable_webhook(
    store: StoreDep,
    workspace_id: WorkspaceDep,
    webhook_id: str,
    reason: Annotated[str | None, Body(embed=True, max_length=500)] = None,
) -> WebhookPublic:
    return public(await service.set_enabled(store, workspace_id, webhook_id, False, reason))


@router.get("/webhooks/{webhook_id}/secret", responses=UNKNOWN_ID)
async def show_secret(store: StoreDep, workspace_id: WorkspaceDep, webhook_id: str) -> Secrets:
    """The signing secret, and the receiver's credentials when it has some: every other answer
    masks them."""
    hook = await store.get_webhook(webhook_id, workspace_id)
    return Secrets(
        secret=hook.secret, previous_secret_expires_at=hook.previous_secret_expires_at, auth=hook.receiver_auth
    )


@router.post("/webhooks/{webhook_id}/rotate-secret", responses=UNKNOWN_ID)
async def rotate_secret(
    store: StoreDep,
    workspace_id: WorkspaceDep,
    webhook_id: str,
    overlap_hours: Annotated[float, Query(ge=0, le=168)] = 24,
) -> Secret:
    """A new secret; the old one keeps signing beside it for `overlap_hours` (default 24)."""
    hook = await service.rotate_secret(store, workspace_id, webhook_id, timedelta(hours=overlap_hours))
    return Secret(secret=hook.secret, previous_secret_expires_at=hook.previous_secret_expires_at)


@router.post(
    "/webhooks/{webhook_id}/test",
    status_code=status.HTTP_202_ACCEPTED,
    response_model_exclude_none=True,
    responses=UNKNOWN_ID | TEMPORAL_DOWN,
)
async def send_test(
    store: StoreDep,
    client: ClientDep,
    settings: SettingsDep,
    workspace_id: WorkspaceDep,
    webhook_id: str,
    wait: bool = False,
) -> Started:
    """Send a signed sample of the webhook's trigger to it alone, through the same workflow as
    every event, marked `"test": true`; `wait=true` answers once the receiver answered its first
    attempt, with that `answer`, and the `result` (or `error`) when that attempt ended it."""
    sent = await service.send_test(store, client, settings.task_queue, workspace_id, webhook_id)
    handle = sent.handle
    started = Started(
        workflow_id=handle.id, ui_url=workflow_url(settings.ui_url, client.namespace, handle.id), note=sent.note
    )
    if wait:
        tested = await service.await_test(store, workspace_id, sent, settings.request_timeout + service.ANSWER_GRACE)
        started.answer, started.result, started.error = tested.answer, tested.result, tested.error
    return started


@router.get("/webhooks/{webhook_id}/preview", responses=UNKNOWN_ID)
async def preview_webhook(store: StoreDep, workspace_id: WorkspaceDep, webhook_id: str) -> RequestPreview:
    """The request this webhook would send for a sample event of its trigger, without sending it:
    URL, headers (credentials masked), body."""
    return service.preview(await store.get_webhook(webhook_id, workspace_id))


@router.post("/webhook-previews")
async def preview_draft(workspace_id: WorkspaceDep, body: WebhookCreate) -> RequestPreview:
    """The request a webhook not yet saved would send (the console's form previews with it)."""
    return service.preview(service.new_webhook(workspace_id, body))


@router.get("/webhooks/{webhook_id}/deliveries", responses=UNKNOWN_ID)
async def list_deliveries(
    store: StoreDep,
    client: ClientDep,
    settings: SettingsDep,
    workspace_id: WorkspaceDep,
    webhook_id: str,
    status: DeliveryStatus | None = None,
    cursor: str | None = None,
    limit: Limit = 50,
) -> DeliveryPage:
    """Newest first, from the ledger; each with its workflow's link in the Temporal UI."""
    return await deliveries.list_deliveries(
        store, workspace_id, webhook_id, ui_url=settings.ui_url, namespace=client.namespace,
        status=status, cursor=cursor, limit=limit,
    )  # fmt: skip


@router.get("/webhooks/{webhook_id}/stats", responses=UNKNOWN_ID)
async def webhook_stats(store: StoreDep, workspace_id: WorkspaceDep, webhook_id: str) -> WebhookStats:
    """The webhook's health over the last 24 hours (hour by hour) and the last 7 days (day by day):
    its deliveries by outcome, the success rate (delivered / (delivered + failed)) and the latency
    p50/p95 of the delivered ones. A delivery counts in the hour and day it was created, with its
    status now; test sends are left out."""
    return await stats.webhook_stats(store, workspace_id, webhook_id)


@router.get("/deliveries", responses=UNKNOWN_ID)
async def list_workspace_deliveries(
    store: StoreDep,
    client: ClientDep,
    settings: SettingsDep,
    workspace_id: WorkspaceDep,
    status: DeliveryStatus | None = None,
    webhook_id: str | None = None,
    event_type: str | None = None,
    contact_id: str | None = None,
    cursor: str | None = None,
    limit: Limit = 50,
) -> DeliveryPage:
    """Every webhook's deliveries in the workspace, newest first, from the ledger. `status=failed`
    lists what is still undelivered after giving up: a delivery redelivered since is `delivered`
    (or `pending` while it is tried again) and is not listed."""
    return await deliveries.list_workspace_deliveries(
        store, workspace_id, ui_url=settings.ui_url, namespace=client.namespace, status=status,
        webhook_id=webhook_id, event_type=event_type, contact_id=contact_id, cursor=cursor, limit=limit,
    )  # fmt: skip


@router.get("/deliveries/{delivery_id}", responses=UNKNOWN_ID)
async def show_delivery(
    store: StoreDep, client: ClientDep, settings: SettingsDep, workspace_id: WorkspaceDep, delivery_id: str
) -> DeliveryPublic:
    return await deliveries.get_delivery(
        store, workspace_id, delivery_id, ui_url=settings.ui_url, namespace=client.namespace
    )
