"""The steps both workflows take to deliver an event: match (record it and its ledger rows), then
per webhook a first attempt as a local activity, in the same workflow task, and, if it failed, the
durable delivery activity on the retry schedule. Workflow code: it only schedules activities."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ActivityError, ApplicationError, WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.delivery import DeliveryActivities
    from activities.matching import MatchingActivities
    from core.schedule import format_delay
    from models.events import TriggerEvent
    from models.payload import NOTIFICATION_TYPE, notification_workflow_id_for
    from models.runs import (
        ALL_DURABLE,
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
FIRST_ATTEMPT_RETRY = RetryPolicy(maximum_attempts=1)
"""The first attempt is not retried where it ran: what follows a failure is the durable activity."""
MATCH_TIMEOUT = timedelta(seconds=30)


async def match(event: TriggerEvent, only_webhook_id: str | None = None) -> MatchResult:
    result: MatchResult = await workflow.execute_local_activity_method(
        MatchingActivities.match_webhooks,
        MatchInput(
            event=event.model_dump(mode="json", exclude_unset=True),
            workflow_id=workflow.info().workflow_id,
            only_webhook_id=only_webhook_id,
            # Not for a DateTime firing: its workflow took in a timer months ago, not this event.
            received_at=workflow.info().workflow_start_time if only_webhook_id is None else None,
        ),
        start_to_close_timeout=MATCH_TIMEOUT,
        summary="load the webhooks that match this event" if only_webhook_id is None else "record the event",
    )
    return result


async def deliver(
    event: TriggerEvent,
    hook: MatchedWebhook,
    matches: MatchResult,
    on_retry: Callable[[DeliveryOutcome], None] | None = None,
) -> DeliveryOutcome:
    """One webhook's delivery: its first attempt here, then the retry schedule if that failed, or
    the durable activity at its turn if it was held back (`on_retry` hears of either); a final
    failure becomes an outcome. A workflow
    matched by an earlier release delivers as that release did (see MatchResult.delivery_shape)."""
    ids = DeliveryInput(workspace_id=event.workspace_id, event_id=event.event_id, webhook_id=hook.webhook_id)
    attempt_timeout, where = matches.attempt_timeout, f"{hook.name} at {hook.host}"
    first = None if matches.delivery_shape == ALL_DURABLE else await first_attempt(ids, hook, attempt_timeout)
    if first is None:  # every attempt durable, or the first one itself broke (the store down): at once
        outcome = await retried(ids, hook, attempt_timeout, summary=f"deliver to {where}")
    elif first.status == DeliveryStatus.THROTTLED and first.retry_in is not None:
        # Held back before it was sent (a limit, a pause, an earlier event of the contact): it
        # waits for its turn on a timer, then the durable activity makes attempt 1. Only workers
        # of this release or later return such an outcome, so earlier histories replay as before.
        if on_retry is not None:
            on_retry(first)
        await workflow.sleep(
            first.retry_in, summary=f"delivery to {where} {first.detail}; its turn in {format_delay(first.retry_in)}"
        )
        outcome = await retried(ids, hook, attempt_timeout, summary=f"deliver to {where} at its turn")
    elif first.status == DeliveryStatus.PENDING and first.retry_in is not None:
        if on_retry is not None:
            on_retry(first)
        await workflow.sleep(
            first.retry_in,
            summary=f"attempt 1 to {where}: {first.detail}; attempt 2 in {format_delay(first.retry_in)}",
        )
        retries = ids.model_copy(update={"prior_attempts": 1})
        outcome = await retried(retries, hook, attempt_timeout, summary=f"retry delivery to {where} (attempt 2 on)")
    else:
        outcome = first
    if outcome.webhook_disabled:
        await notify_disabled(event, hook, attempt_timeout)
    return outcome


async def first_attempt(ids: DeliveryInput, hook: MatchedWebhook, attempt_timeout: timedelta) -> DeliveryOutcome | None:
    """The first attempt as a local activity: run by this worker within this workflow task, all of
    an event's in parallel, recorded as markers when the task completes. None if it broke."""
    try:
        outcome: DeliveryOutcome = await workflow.execute_local_activity_method(
            DeliveryActivities.deliver_first,
            ids,
            activity_id=f"deliver-{hook.webhook_id}",
            start_to_close_timeout=attempt_timeout,
            retry_policy=FIRST_ATTEMPT_RETRY,
            summary=f"deliver to {hook.name} at {hook.host}",
        )
        return outcome
    # A failed local activity may reach the workflow as its own error, not as an ActivityError.
    except (ActivityError, ApplicationError) as err:
        workflow.logger.warning("first attempt to %s broke, the retry schedule takes over: %s", hook.host, err)
        return None


async def retried(
    ids: DeliveryInput, hook: MatchedWebhook, attempt_timeout: timedelta, summary: str
) -> DeliveryOutcome:
    """The durable delivery activity, retried on the schedule; its final failure becomes an outcome."""
    try:
        outcome: DeliveryOutcome = await workflow.execute_activity_method(
            DeliveryActivities.deliver,
            ids,
            activity_id=f"deliver-{hook.webhook_id}",
            start_to_close_timeout=attempt_timeout,
            retry_policy=DELIVERY_RETRY,
            summary=summary,
        )
        return outcome
    except ActivityError as err:
        return gave_up(hook, err)


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
