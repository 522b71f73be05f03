"""DateTimeTriggerWorkflow: one durable timer per (DateTime webhook, contact).

Set by signal-with-start from the events that carry the watched field (`set_value`); it sleeps
until the fire time, moves when a new value arrives, ends without firing when the field is cleared,
and at the fire time re-reads the webhook (off or deleted: nothing sent; a changed offset or time
of day: the timer moves, or is skipped if the new time has passed) before delivering through the
same steps as every event. Long waits keep a small history: one timer, no polling; a history
grown by many signals continues as new.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from temporalio import workflow

from workflows.steps import deliver, match

with workflow.unsafe.imports_passed_through():
    from activities.timers import TimerActivities
    from models import search_attributes as sa
    from models.events import DATETIME_TYPE, DateTimeReached, parse_event
    from models.payload import TIMER_WORKFLOW_TYPE
    from models.runs import DeliveryOutcome, PlanInput, TimerInput, TimerOutcome, TimerPlan, TimerValue
    from models.tables import DeliveryStatus

PLAN_TIMEOUT = timedelta(seconds=30)


@workflow.defn(name=TIMER_WORKFLOW_TYPE)
class DateTimeTriggerWorkflow:
    def __init__(self) -> None:
        self._value: TimerValue | None = None
        self._changed = False
        self._fire_at: datetime | None = None

    @workflow.signal
    def set_value(self, value: TimerValue) -> None:
        self._value = value
        self._changed = True

    @workflow.query
    def next_fire(self) -> datetime | None:
        """When the timer fires; None once it fired or will not."""
        return self._fire_at

    @workflow.run
    async def run(self, input: TimerInput) -> TimerOutcome:
        if input.carried is not None and self._value is None:  # continued as new
            self._value = input.carried
        await workflow.wait_condition(lambda: self._value is not None)
        while True:
            self._changed = False
            plan = await self._plan(input)
            if plan.fire_at is None:
                return self._end("not scheduled", plan.reason)
            if plan.fire_at <= workflow.now():
                return self._end(
                    "not scheduled",
                    f"its fire time {plan.fire_at:%Y-%m-%d %H:%M:%S} UTC had passed when it was set",
                    plan.fire_at,
                )
            if await self._sleep_until(plan.fire_at):
                if workflow.info().is_continue_as_new_suggested():
                    workflow.continue_as_new(input.model_copy(update={"carried": self._value}))
                continue  # a new value: plan again
            # The fire time came: the webhook may have changed while we slept.
            now_plan = await self._plan(input)
            if now_plan.fire_at is None:
                return self._end("skipped", now_plan.reason, plan.fire_at)
            if now_plan.fire_at != plan.fire_at:
                if now_plan.fire_at > workflow.now():
                    continue  # the offset or time of day changed: the timer moves
                return self._end(
                    "skipped",
                    "the webhook's offset or time of day changed and the new fire time has passed",
                    now_plan.fire_at,
                )
            return await self._fire(input, now_plan)

    async def _plan(self, input: TimerInput) -> TimerPlan:
        assert self._value is not None
        plan: TimerPlan = await workflow.execute_activity_method(
            TimerActivities.plan_timer,
            PlanInput(
                workspace_id=input.workspace_id,
                webhook_id=input.webhook_id,
                value=self._value.value,
                timezone=self._value.contact.get("timezone"),
            ),
            start_to_close_timeout=PLAN_TIMEOUT,
            summary="read the webhook and compute the fire time",
        )
        return plan

    async def _sleep_until(self, fire_at: datetime) -> bool:
        """Sleep until `fire_at`; True if a new value arrived first."""
        self._fire_at = fire_at
        workflow.upsert_search_attributes([sa.FIRE_AT.value_set(fire_at)])
        workflow.set_current_details(f"fires at {fire_at:%Y-%m-%d %H:%M:%S} UTC")
        try:
            await workflow.wait_condition(
                lambda: self._changed,
                timeout=fire_at - workflow.now(),
                timeout_summary=f"until {fire_at:%Y-%m-%d %H:%M:%S} UTC",
            )
            return True
        except TimeoutError:
            return False

    async def _fire(self, input: TimerInput, plan: TimerPlan) -> TimerOutcome:
        assert self._value is not None and plan.fire_at is not None
        when = plan.fire_at
        event = parse_event(
            {
                # Unique per (webhook, contact, instant), and short whatever the contact id's length.
                "event_id": f"dt_{input.webhook_id}_{when:%Y%m%dT%H%M%SZ}_{short_hash(input.contact_id)}",
                "workspace_id": input.workspace_id,
                "type": DATETIME_TYPE,
                "occurred_at": when.isoformat(),
                "contact": self._value.contact,
                "data": {
                    "field": plan.field,
                    "field_value": self._value.value,
                    "offset": plan.offset,
                    "scheduled_for": when.isoformat(),
                },
            }
        )
        assert isinstance(event, DateTimeReached)
        matches = await match(event, only_webhook_id=input.webhook_id)
        self._fire_at = None
        if not matches.webhooks:  # deleted between the re-read and now
            return self._end("skipped", "the webhook was deleted", when)

        def retrying(first: DeliveryOutcome) -> None:
            workflow.set_current_details(
                f"fired at {when:%Y-%m-%d %H:%M:%S} UTC; attempt 1 failed ({first.detail}), retrying on the schedule"
            )

        outcome = await deliver(event, matches.webhooks[0], matches, retrying)
        status = "delivered" if outcome.status == DeliveryStatus.DELIVERED else str(outcome.status)
        return TimerOutcome(status=status, reason=outcome.detail, fire_at=when, delivery=outcome)

    def _end(self, status: str, reason: str, fire_at: datetime | None = None) -> TimerOutcome:
        self._fire_at = None
        workflow.set_current_details(f"{status}: {reason}")
        return TimerOutcome(status=status, reason=reason, fire_at=fire_at)


def short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]
