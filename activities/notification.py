"""Operational events for a workspace: `webhook.disabled`, POSTed (signed with the workspace's
notification secret) to its notification URL when one is set, and logged either way."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
from temporalio import activity

from activities.outage import store_outage_retried
from activities.retries import give_up, retry_later
from activities.sending import post_json_signed
from core.errors import NotFound
from core.outcome import Verdict, classify
from core.schedule import retry_delay
from models.payload import delivery_id_for
from models.runs import NotificationInput, NotificationOutcome
from models.tables import Webhook, utcnow
from store.queries import Store

WEBHOOK_DISABLED = "webhook.disabled"


class NotificationActivities:
    def __init__(
        self, store: Store, http: httpx.AsyncClient, *, schedule: tuple[timedelta, ...], request_timeout: timedelta
    ) -> None:
        self.store = store
        self.http = http
        self.schedule = schedule
        self.request_timeout = request_timeout

    @activity.defn(name="notify_workspace")
    async def notify_workspace(self, input: NotificationInput) -> NotificationOutcome:
        with store_outage_retried():
            settings = await self.store.workspace_settings(input.workspace_id)
            try:
                hook: Webhook | None = await self.store.get_webhook(input.webhook_id)
            except NotFound:
                hook = None
        body = disabled_event(input, hook)
        # Logged without the webhook's URL, which is often its credential (a Slack hook's path).
        logged = body["data"] | {"webhook": {"id": input.webhook_id, "name": hook.name if hook else None}}
        activity.logger.warning("%s: %s", WEBHOOK_DISABLED, json.dumps(logged))
        if settings is None or not settings.notification_url:
            return NotificationOutcome(sent=False, detail="no notification URL is set for the workspace: logged only")

        message_id = delivery_id_for(input.workspace_id, f"{WEBHOOK_DISABLED}:{input.event_id}", input.webhook_id)
        encoded = json.dumps(body, separators=(",", ":")).encode()
        attempt = await post_json_signed(
            self.http, settings.notification_url, [settings.notification_secret], message_id, encoded,
            self.request_timeout,
        )  # fmt: skip
        if attempt.status_code is not None and classify(attempt.status_code).verdict is Verdict.DELIVERED:
            return NotificationOutcome(sent=True, detail=f"HTTP {attempt.status_code} from {settings.notification_url}")
        detail = f"HTTP {attempt.status_code}" if attempt.status_code is not None else attempt.error or "no answer"
        delay = retry_delay(self.schedule, activity.info().attempt)
        if delay is None:
            give_up(f"{detail}; gave up")
        retry_later(detail, delay)


def disabled_event(input: NotificationInput, hook: Webhook | None) -> dict[str, Any]:
    """The operational event's body, in the deliveries' shape (Standard Webhooks)."""
    disabled_at = (hook.disabled_at if hook and hook.disabled_at else utcnow()).isoformat()
    return {
        "type": WEBHOOK_DISABLED,
        "timestamp": disabled_at,
        "data": {
            "workspace_id": input.workspace_id,
            "webhook": {"id": input.webhook_id, "name": hook.name if hook else None, "url": hook.url if hook else None},
            "reason": hook.disabled_reason if hook else "the webhook was deleted",
            "disabled_at": disabled_at,
            "event_id": input.event_id,
        },
    }
