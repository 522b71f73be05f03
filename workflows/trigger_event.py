"""TriggerEventWorkflow: one trigger event, delivered to every webhook it matches.

It only orchestrates: match (a local activity that records the event and its matches), then every
webhook's first attempt in parallel as local activities in the same workflow task, the durable
retries of those that failed, then complete, or fail naming each webhook that gave up.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate
from temporalio.exceptions import ApplicationError

from workflows.steps import deliver, match

with workflow.unsafe.imports_passed_through():
    from activities.timers import TimerActivities
    from models import search_attributes as sa
    from models.events import TriggerEvent, TriggerEventInput
    from models.payload import WORKFLOW_TYPE
    from models.runs import DeliveryOutcome, EventOutcome, MatchedWebhook, MatchResult, SetTimersInput
    from models.tables import DeliveryStatus

TIMERS_TIMEOUT = timedelta(seconds=30)
FAILED = "DeliveriesFailed"
RETRYING = "retrying"
UNFINISHED_SHOWN = 20
UNSETTLED = {DeliveryStatus.PENDING: RETRYING, DeliveryStatus.THROTTLED: "held back", DeliveryStatus.FAILED: "gave up"}


@workflow.defn(name=WORKFLOW_TYPE)
class TriggerEventWorkflow:
    def __init__(self) -> None:
        self._outcomes: dict[str, DeliveryOutcome] = {}
        self._timers: list[str] = []

    @workflow.run
    async def run(self, input: TriggerEventInput) -> EventOutcome:
        event = input.root
        matches = await match(event)
        self._index(event, matches)
        self._show_progress(event, matches)
        await asyncio.gather(
            *(self._deliver(event, hook, matches) for hook in matches.webhooks), self._set_timers(event, matches)
        )

        result = EventOutcome(
            event_id=event.event_id,
            workspace_id=event.workspace_id,
            type=event.type,
            matched=len(matches.webhooks),
            delivered=self._count(DeliveryStatus.DELIVERED),
            skipped=self._count(DeliveryStatus.SKIPPED),
            failed=self._count(DeliveryStatus.FAILED),
            deliveries=[self._outcomes[h.webhook_id] for h in matches.webhooks],
            timers=self._timers,
            conflict=matches.conflict,
        )
        failed = [o for o in result.deliveries if o.status == DeliveryStatus.FAILED]
        if failed:
            workflow.upsert_search_attributes(
                [sa.FAILED_WEBHOOK_IDS.value_set(sa.fitting([o.webhook_id for o in failed]))]
            )
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
        def record(outcome: DeliveryOutcome) -> None:
            """Keep the delivery's latest outcome (its failed first attempt, then its last)."""
            self._outcomes[hook.webhook_id] = outcome
            self._show_progress(event, matches)

        record(await deliver(event, hook, matches, record))

    async def _set_timers(self, event: TriggerEvent, matches: MatchResult) -> None:
        """Set, move or cancel the DateTime timers whose watched field this event speaks of."""
        if matches.timers:
            self._timers = await workflow.execute_activity_method(
                TimerActivities.set_timers,
                SetTimersInput(
                    workspace_id=event.workspace_id,
                    event_id=event.event_id,
                    contact=event.contact.model_dump(mode="json", exclude_unset=True),
                    timers=matches.timers,
                ),
                start_to_close_timeout=TIMERS_TIMEOUT,
                summary=f"set {len(matches.timers)} DateTime timer(s) for contact {event.contact.id}",
            )

    def _index(self, event: TriggerEvent, matches: MatchResult) -> None:
        """The search attributes the start did not set, or set otherwise: the matches (unless the
        intake knew them already), and those a start from another SDK may have left out."""
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
        matched = sa.fitting([h.webhook_id for h in matches.webhooks])
        if list(present.get(sa.WEBHOOK_IDS) or []) != matched:
            updates.append(sa.WEBHOOK_IDS.value_set(matched))
        if updates:
            workflow.upsert_search_attributes(updates)

    def _show_progress(self, event: TriggerEvent, matches: MatchResult) -> None:
        details = (
            f"{event.type} in workspace {event.workspace_id} for contact {event.contact.id}: "
            f"{len(matches.webhooks)} webhook(s) matched"
        )
        if len(sa.fitting([h.webhook_id for h in matches.webhooks])) < len(matches.webhooks):
            details += " (WebhookIds lists those that fit in a search attribute; the ledger has all)"
        counts = Counter(o.status for o in self._outcomes.values())
        if counts:
            details += ", " + ", ".join(
                f"{counts[status]} {RETRYING if status == DeliveryStatus.PENDING else status}"
                for status in (
                    DeliveryStatus.DELIVERED,
                    DeliveryStatus.PENDING,
                    DeliveryStatus.THROTTLED,
                    DeliveryStatus.SKIPPED,
                    DeliveryStatus.FAILED,
                )
                if counts[status]
            )
        if any(counts[status] for status in UNSETTLED):
            details += "".join(self._unfinished(matches))
        if matches.conflict:
            details += f"\n\n{matches.conflict}"
        workflow.set_current_details(details)

    def _unfinished(self, matches: MatchResult) -> list[str]:
        """A line for each delivery still retrying or given up, which webhook at which host and why
        (the UI shows current details as markdown); the first few, the ledger has all."""
        lines = []
        for hook in matches.webhooks:
            outcome = self._outcomes.get(hook.webhook_id)
            if outcome is not None and outcome.status in UNSETTLED:
                state = UNSETTLED[outcome.status]
                lines.append(f"\n- {state}: {hook.name} at {hook.host} ({hook.webhook_id}), {outcome.detail}")
        if len(lines) > UNFINISHED_SHOWN:
            lines[UNFINISHED_SHOWN:] = [f"\n- and {len(lines) - UNFINISHED_SHOWN} more"]
        return ["\n", *lines] if lines else []

    def _count(self, status: DeliveryStatus) -> int:
        return sum(1 for o in self._outcomes.values() if o.status == status)
