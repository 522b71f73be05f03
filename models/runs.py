"""Inputs and results of the workflows and activities: small, and free of personal data,
because Temporal stores them in clear in every history."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel

from models.tables import DeliveryStatus


class MatchInput(BaseModel):
    event: dict[str, Any]
    """The event as received: a model would travel with its defaults filled in."""
    workflow_id: str
    only_webhook_id: str | None = None
    """Deliver to this webhook alone (a DateTime trigger firing), whatever else would match."""
    received_at: datetime | None = None
    """When Temporal took the event in (its workflow's start): the order of intake, which orders
    an ordered webhook's deliveries of events that occurred at the same time."""


class MatchedWebhook(BaseModel):
    webhook_id: str
    delivery_id: str
    name: str
    host: str


ALL_DURABLE = 1
"""Every attempt as the durable delivery activity (release e9c754c and before)."""
LOCAL_FIRST = 2
"""The first attempt as a local activity in the event's workflow task, the retries durable."""


class MatchResult(BaseModel):
    webhooks: list[MatchedWebhook]
    delivery_shape: int = ALL_DURABLE
    """How the workflow delivers, as the worker that matched knows how. The match is recorded in
    the history, so a workflow replays the shape it started with: one matched by an earlier release
    (its result had no such field) goes on with every attempt durable, a later match goes local
    first. A change of shape that `workflow.patched` would also mark, without the patch's upsert of
    TemporalChangeVersion (a billable action on every event)."""
    timers: list[TimerRequest] = []
    """DateTime webhooks whose watched field this event carries a value for (or clears)."""
    attempt_timeout: timedelta = timedelta(seconds=30)
    """How long one delivery attempt may take, as the worker that matched is configured."""
    conflict: str | None = None
    """Set when this event id was first received with other content: the first one wins."""


class TimerRequest(BaseModel):
    webhook_id: str
    value: Any
    """The field's new value; None when the event clears it."""


class SetTimersInput(BaseModel):
    workspace_id: str
    event_id: str
    contact: dict[str, Any]
    timers: list[TimerRequest]


class TimerInput(BaseModel):
    """`DateTimeTriggerWorkflow`'s input: which timer; its value arrives by signal."""

    workspace_id: str
    webhook_id: str
    contact_id: str
    carried: TimerValue | None = None
    """The latest value, when the workflow continued as new (its signals do not carry over)."""


class TimerValue(BaseModel):
    """The `set_value` signal: the watched field's latest value, and the contact as it was then."""

    value: Any
    contact: dict[str, Any]
    event_id: str


class PlanInput(BaseModel):
    workspace_id: str
    webhook_id: str
    value: Any
    timezone: str | None


class TimerPlan(BaseModel):
    """When the timer should fire, as the webhook is configured now; or why it should not."""

    fire_at: datetime | None = None
    reason: str = ""
    field: str = ""
    offset: str = ""


class TimerOutcome(BaseModel):
    """The result of `DateTimeTriggerWorkflow`."""

    status: str
    """delivered, failed, skipped (the webhook changed before the fire), not scheduled."""
    reason: str
    fire_at: datetime | None = None
    delivery: DeliveryOutcome | None = None


class DeliveryInput(BaseModel):
    """Only ids: the activity reads the URL, the secret and the body from the store."""

    workspace_id: str
    event_id: str
    webhook_id: str
    prior_attempts: int = 0
    """Attempts this run made before the durable activity took over (its first, local one), so
    that the retry schedule carries on where they left it."""


class DeliveryOutcome(BaseModel):
    webhook_id: str
    delivery_id: str
    status: DeliveryStatus
    attempts: int
    status_code: int | None = None
    detail: str = ""
    webhook_disabled: bool = False
    """This attempt turned the webhook off (410, or failing for too long): the workspace is told."""
    retry_in: timedelta | None = None
    """Status pending: the attempt failed and the next one is due after this delay."""


class PruneInput(BaseModel):
    batch_size: int = 500


class PruneOutcome(BaseModel):
    cutoff: datetime
    deliveries: int = 0
    events: int = 0


class NotificationInput(BaseModel):
    """An operational event for a workspace: `webhook.disabled`, when an attempt turned it off."""

    workspace_id: str
    webhook_id: str
    event_id: str
    """The event whose delivery turned it off."""
    attempt_timeout: timedelta


class NotificationOutcome(BaseModel):
    sent: bool
    detail: str


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
    timers: list[str] = []
    """The DateTime timers this event set, moved or cleared (their workflow ids)."""
    conflict: str | None = None


TimerOutcome.model_rebuild()
TimerInput.model_rebuild()
