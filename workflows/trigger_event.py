"""TriggerEventWorkflow: one trigger event, delivered to every webhook it matches.

It only orchestrates: match (a local activity that records the event and its matches), fan out one
delivery activity per webhook in parallel, then complete, or fail naming each webhook that gave up.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.delivery import DeliveryActivities
    from activities.matching import MatchingActivities
    from models import search_attributes as sa
    from models.events import TriggerEvent, TriggerEventInput
    from models.payload import WORKFLOW_TYPE
    from models.runs import (
        DeliveryInput,
        DeliveryOutcome,
        EventOutcome,
        MatchedWebhook,
        MatchInput,
        MatchResult,
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
FAILED = "DeliveriesFailed"


@workflow.defn(name=WORKFLOW_TYPE)
class TriggerEventWorkflow:
    def __init__(self) -> None:
        self._outcomes: dict[str, DeliveryOutcome] = {}

    @workflow.run
    async def run(self, input: TriggerEventInput) -> EventOutcome:
        event = input.root
        matches: MatchResult = await workflow.execute_local_activity_method(
            MatchingActivities.match_webhooks,
            MatchInput(event=event, workflow_id=workflow.info().workflow_id),
            start_to_close_timeout=MATCH_TIMEOUT,
            summary="load the webhooks that match this event",
        )
        self._index(event, matches)
        self._show_progress(event, matches)
        await asyncio.gather(*(self._deliver(event, hook, matches) for hook in matches.webhooks))
        self._show_progress(event, matches)

        result = EventOutcome(
            event_id=event.event_id,
            workspace_id=event.workspace_id,
            type=event.type,
            matched=len(matches.webhooks),
            delivered=self._count(DeliveryStatus.DELIVERED),
            skipped=self._count(DeliveryStatus.SKIPPED),
            failed=self._count(DeliveryStatus.FAILED),
            deliveries=[self._outcomes[h.webhook_id] for h in matches.webhooks],
            conflict=matches.conflict,
        )
        failed = [o for o in result.deliveries if o.status == DeliveryStatus.FAILED]
        if failed:
            workflow.upsert_search_attributes([sa.FAILED_WEBHOOK_IDS.value_set([o.webhook_id for o in failed])])
            hosts = {h.webhook_id: h.host for h in matches.webhooks}
            names = "; ".join(f"{o.webhook_id} ({hosts[o.webhook_id]}): {o.detail}" for o in failed)
            raise ApplicationError(
                f"{len(failed)} of {result.matched} deliveries gave up: {names}",
                result,
                type=FAILED,
                non_retryable=True,
            )
        return result

    @workflow.query
    def outcomes(self) -> list[DeliveryOutcome]:
        return list(self._outcomes.values())

    async def _deliver(self, event: TriggerEvent, hook: MatchedWebhook, matches: MatchResult) -> None:
        try:
            self._outcomes[hook.webhook_id] = await workflow.execute_activity_method(
                DeliveryActivities.deliver,
                DeliveryInput(
                    workspace_id=event.workspace_id,
                    event_id=event.event_id,
                    webhook_id=hook.webhook_id,
                ),
                activity_id=f"deliver-{hook.webhook_id}",
                start_to_close_timeout=matches.attempt_timeout,
                retry_policy=DELIVERY_RETRY,
                summary=f"deliver to {hook.name} at {hook.host}",
            )
        except ActivityError as err:
            self._outcomes[hook.webhook_id] = gave_up(hook, err)

    def _index(self, event: TriggerEvent, matches: MatchResult) -> None:
        """Search attributes the starter could not know (the matches), and those a start from
        another SDK may have left out."""
        present = workflow.info().typed_search_attributes
        updates: list[SearchAttributeUpdate[Any]] = [
            key.value_set(value)
            for key, value in (
                (sa.EVENT_TYPE, event.type),
                (sa.WORKSPACE_ID, event.workspace_id),
                (sa.CONTACT_ID, event.contact.id),
            )
            if present.get(key) is None
        ]
        updates.append(sa.WEBHOOK_IDS.value_set([h.webhook_id for h in matches.webhooks]))
        workflow.upsert_search_attributes(updates)

    def _show_progress(self, event: TriggerEvent, matches: MatchResult) -> None:
        details = (
            f"{event.type} in workspace {event.workspace_id} for contact {event.contact.id}: "
            f"{len(matches.webhooks)} webhook(s) matched"
        )
        if self._outcomes:
            details += ", " + ", ".join(
                f"{self._count(status)} {status}"
                for status in (
                    DeliveryStatus.DELIVERED,
                    DeliveryStatus.SKIPPED,
                    DeliveryStatus.FAILED,
                )
                if self._count(status)
            )
        if matches.conflict:
            details += f"\n\n{matches.conflict}"
        workflow.set_current_details(details)

    def _count(self, status: DeliveryStatus) -> int:
        return sum(1 for o in self._outcomes.values() if o.status == status)


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
