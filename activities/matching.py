"""Which webhooks an event goes to: read (and record) in the store, in one round trip."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity

from models.runs import MatchInput, MatchResult
from store.queries import Store


class MatchingActivities:
    def __init__(self, store: Store, attempt_timeout: timedelta) -> None:
        self.store = store
        self.attempt_timeout = attempt_timeout

    @activity.defn(name="match_webhooks")
    async def match_webhooks(self, input: MatchInput) -> MatchResult:
        result = await self.store.record_event(input.event, input.workflow_id)
        result.attempt_timeout = self.attempt_timeout
        return result
