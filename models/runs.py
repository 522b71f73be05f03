"""Inputs and results of the workflows and activities: small, and free of personal data,
because Temporal stores them in clear in every history."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel

from models.events import TriggerEvent
from models.tables import DeliveryStatus


class MatchInput(BaseModel):
    event: TriggerEvent
    workflow_id: str


class MatchedWebhook(BaseModel):
    webhook_id: str
    delivery_id: str
    name: str
    host: str


class MatchResult(BaseModel):
    webhooks: list[MatchedWebhook]
    attempt_timeout: timedelta = timedelta(seconds=30)
    """How long one delivery attempt may take, as the worker that matched is configured."""
    conflict: str | None = None
    """Set when this event id was first received with other content: the first one wins."""


class DeliveryInput(BaseModel):
    """Only ids: the activity reads the URL, the secret and the body from the store."""

    workspace_id: str
    event_id: str
    webhook_id: str


class DeliveryOutcome(BaseModel):
    webhook_id: str
    delivery_id: str
    status: DeliveryStatus
    attempts: int
    status_code: int | None = None
    detail: str = ""


class EventOutcome(BaseModel):
    """The result of `TriggerEventWorkflow`: one line per matched webhook."""

    event_id: str
    workspace_id: str
    type: str
    matched: int
    delivered: int
    skipped: int
    failed: int
    deliveries: list[DeliveryOutcome]
    conflict: str | None = None
