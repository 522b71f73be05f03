"""Which webhooks an event goes to: read (and record) in the store, in one round trip."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity

from activities.outage import store_outage_retried
from core import metrics
from models.datetime_trigger import watched_value
from models.events import EVENT_ADAPTER
from models.runs import LOCAL_FIRST, MatchInput, MatchResult, TimerRequest
from store.queries import Store


class MatchingActivities:
    def __init__(self, store: Store, attempt_timeout: timedelta) -> None:
        self.store = store
        self.attempt_timeout = attempt_timeout

    @activity.defn(name="match_webhooks")
    async def match_webhooks(self, input: MatchInput) -> MatchResult:
        with store_outage_retried():
            return await self._match(input)

    async def _match(self, input: MatchInput) -> MatchResult:
        event = EVENT_ADAPTER.validate_python(input.event)
        recorded = await self.store.record_event(event, input.workflow_id, input.only_webhook_id, input.received_at)
        result = recorded.matches
        result.attempt_timeout = self.attempt_timeout
        result.delivery_shape = LOCAL_FIRST
        metrics.matched(len(result.webhooks))
        data = event.data.model_dump(mode="json") if recorded.watchers else {}
        for hook in recorded.watchers:
            found, value = watched_value(event.type, data, event.contact.custom_fields, hook.filter["field"])
            if found:
                result.timers.append(TimerRequest(webhook_id=hook.id, value=value))
        return result
