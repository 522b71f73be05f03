"""DateTime triggers' I/O: setting a (webhook, contact) timer by signal-with-start, and reading
the webhook to plan when it fires."""

from __future__ import annotations

from temporalio import activity
from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes

from activities.outage import store_outage_retried
from core.errors import NotFound
from models import search_attributes as sa
from models.datetime_trigger import fire_time, parse_offset, parse_time_of_day, zone
from models.events import DATETIME_TYPE
from models.payload import TIMER_WORKFLOW_TYPE, timer_workflow_id_for
from models.runs import PlanInput, SetTimersInput, TimerInput, TimerPlan, TimerValue
from store.queries import Store


class TimerActivities:
    def __init__(self, store: Store, client: Client, task_queue: str) -> None:
        self.store = store
        self.client = client
        self.task_queue = task_queue

    @activity.defn(name="set_timers")
    async def set_timers(self, input: SetTimersInput) -> list[str]:
        """Set, move or clear each timer with one idempotent call: signal-with-start on the
        timer's workflow id. The same value sent twice leaves one timer at one instant."""
        contact_id = str(input.contact["id"])
        started = []
        for timer in input.timers:
            workflow_id = timer_workflow_id_for(input.workspace_id, timer.webhook_id, contact_id)
            await self.client.start_workflow(
                TIMER_WORKFLOW_TYPE,
                TimerInput(workspace_id=input.workspace_id, webhook_id=timer.webhook_id, contact_id=contact_id),
                id=workflow_id,
                task_queue=self.task_queue,
                start_signal="set_value",
                start_signal_args=[TimerValue(value=timer.value, contact=input.contact, event_id=input.event_id)],
                search_attributes=TypedSearchAttributes(
                    [
                        SearchAttributePair(sa.EVENT_TYPE, DATETIME_TYPE),
                        SearchAttributePair(sa.WORKSPACE_ID, input.workspace_id),
                        SearchAttributePair(sa.CONTACT_ID, contact_id),
                        SearchAttributePair(sa.WEBHOOK_IDS, [timer.webhook_id]),
                    ]
                ),
                static_summary=f"DateTime trigger of webhook {timer.webhook_id} for contact {contact_id}",
            )
            started.append(workflow_id)
        return started

    @activity.defn(name="plan_timer")
    async def plan_timer(self, input: PlanInput) -> TimerPlan:
        """When the timer fires with the webhook as it is configured now (no judgement of the
        past: that is the workflow's, on its own clock)."""
        try:
            with store_outage_retried():
                hook = await self.store.get_webhook(input.webhook_id, input.workspace_id)
        except NotFound:
            return TimerPlan(reason="the webhook was deleted")
        if not hook.enabled:
            return TimerPlan(reason=f"the webhook is turned off ({hook.disabled_reason or 'by a user'})")
        if hook.event_type != DATETIME_TYPE:
            return TimerPlan(reason="the webhook no longer has a DateTime trigger")
        field, offset = hook.filter["field"], parse_offset(hook.filter["offset"])
        plan = TimerPlan(field=field, offset=str(offset))
        if input.value is None or input.value == "":
            plan.reason = f"the field {field} was cleared"
            return plan
        time_of_day = parse_time_of_day(hook.filter["time_of_day"]) if "time_of_day" in hook.filter else None
        try:
            plan.fire_at = fire_time(input.value, offset, time_of_day, zone(input.timezone))
        except ValueError as err:
            plan.reason = f"the value of {field} cannot be read as a date or datetime: {err}"
        return plan
