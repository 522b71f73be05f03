"""Ledger retention: remove delivery rows (and their response excerpts) and stored events older
than the configured age, batch by batch, so the table is never locked for long."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity

from activities.outage import store_outage_retried
from models.runs import PruneInput, PruneOutcome
from models.tables import utcnow
from store.queries import Store


class RetentionActivities:
    def __init__(self, store: Store, retention: timedelta) -> None:
        self.store = store
        self.retention = retention

    @activity.defn(name="prune_ledger")
    async def prune_ledger(self, input: PruneInput) -> PruneOutcome:
        cutoff = utcnow() - self.retention
        done = PruneOutcome(cutoff=cutoff)
        with store_outage_retried():
            while (removed := await self.store.prune_deliveries(cutoff, input.batch_size)) > 0:
                done.deliveries += removed
                activity.heartbeat(done.deliveries)
            while (removed := await self.store.prune_events(cutoff, input.batch_size)) > 0:
                done.events += removed
                activity.heartbeat(done.events)
        activity.logger.info(
            "ledger retention: removed %d deliveries and %d events from before %s",
            done.deliveries, done.events, cutoff.isoformat(),
        )  # fmt: skip
        return done
