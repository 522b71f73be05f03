"""The steps both workflows take to deliver an event: match (record it and its ledger rows), then
one delivery activity per webhook. Workflow code: it only schedules activities."""

from __future__ import annotations

import contextlib
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ActivityError, ApplicationError, WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.delivery import DeliveryActivities
    from activities.matching import MatchingActivities
    from models.events import TriggerEvent
    from models.payload import NOTIFICATION_TYPE, notification_workflow_id_for
    from models.runs import (
        DeliveryInput,
        DeliveryOutcome,
        MatchedWebhook,
        MatchInput,
        MatchResult,
        NotificationInput,
    )
    from models.tables import DeliveryStatus

DELIVERY_RETRY = RetryPolicy(
    # The activity sets each delay itself from the schedule (next_retry_delay) and decides when
    # to give up; these intervals only apply when an attempt was lost (worker crash, timeout).
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
)
MATCH_TIMEOUT = timedelta(seconds=30)


async def match(event: TriggerEvent, only_webhook_id: str | None = None) -> MatchResult:
    result: MatchResult = await workflow.execute_local_activity_method(
        MatchingActivities.match_webhooks,
        MatchInput(
            event=event.model_dump(mode="json", exclude_unset=True),
            workflow_id=workflow.info().workflow_id,
            only_webhook_id=only_webhook_id,
        ),
        start_to_close_timeout=MATCH_TIMEOUT,
        summary="load the webhooks that match this event" if only_webhook_id is None else "record the event",
    )
    return result


async def deliver(event: TriggerEvent, hook: MatchedWebhook, attempt_timeout: timedelta) -> DeliveryOutcome:
    """One webhook's delivery, retried on the schedule; its final failure becomes an outcome."""
    try:
        outcome: DeliveryOutcome = await workflow.execute_activity_method(
            DeliveryActivities.deliver,
            DeliveryInput(workspace_id=event.workspace_id, event_id=event.event_id, webhook_id=hook.webhook_id),
            activity_id=f"deliver-{hook.webhook_id}",
            start_to_close_timeout=attempt_timeout,
            retry_policy=DELIVERY_RETRY,
            summary=f"deliver to {hook.name} at {hook.host}",
        )
        return outcome
    except ActivityError as err:
        outcome = gave_up(hook, err)
    if outcome.webhook_disabled:
        await notify_disabled(event, hook, attempt_timeout)
    return outcome


async def notify_disabled(event: TriggerEvent, hook: MatchedWebhook, attempt_timeout: timedelta) -> None:
    """Tell the workspace, in a workflow of its own that this one does not wait for."""
    # Already started means a re-run of the event: the workspace was told the first time.
    with contextlib.suppress(WorkflowAlreadyStartedError):
        await workflow.start_child_workflow(
            NOTIFICATION_TYPE,
            NotificationInput(
                workspace_id=event.workspace_id,
                webhook_id=hook.webhook_id,
                event_id=event.event_id,
                attempt_timeout=attempt_timeout,
            ),
            id=notification_workflow_id_for(event.workspace_id, hook.webhook_id, event.event_id),
            parent_close_policy=ParentClosePolicy.ABANDON,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            static_summary=f"webhook.disabled: {hook.name} ({hook.webhook_id}) in workspace {event.workspace_id}",
        )


def gave_up(hook: MatchedWebhook, err: ActivityError) -> DeliveryOutcome:
    """The outcome a delivery activity attached to its final failure, or one made from the error."""
    cause = err.cause
    if isinstance(cause, ApplicationError) and cause.details:
        return DeliveryOutcome.model_validate(cause.details[0])
    return DeliveryOutcome(
        webhook_id=hook.webhook_id,
        delivery_id=hook.delivery_id,
        status=DeliveryStatus.FAILED,
        attempts=0,
        detail=str(cause or err),
    )
