"""LedgerRetentionWorkflow: what the daily Temporal Schedule `webhooks-ledger-retention` starts."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.retention import RetentionActivities
    from models.payload import RETENTION_TYPE
    from models.runs import PruneInput, PruneOutcome


@workflow.defn(name=RETENTION_TYPE)
class LedgerRetentionWorkflow:
    @workflow.run
    async def run(self, input: PruneInput) -> PruneOutcome:
        outcome: PruneOutcome = await workflow.execute_activity_method(
            RetentionActivities.prune_ledger,
            input,
            start_to_close_timeout=timedelta(hours=1),
            heartbeat_timeout=timedelta(minutes=2),
            retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=5)),
            summary=f"remove ledger rows past retention, {input.batch_size} at a time",
        )
        return outcome
