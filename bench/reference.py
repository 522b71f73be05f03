"""The reference for `make bench`: a minimal workflow with one activity, and its worker as a process
of its own (`python -m bench.reference TASK_QUEUE`), so it runs exactly as the pipeline's worker does."""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.worker import Worker

with workflow.unsafe.imports_passed_through():
    from core.temporal import connect


@activity.defn
async def touch() -> float:
    """When the activity ran (wall clock): the driver measures start-to-activity from it."""
    return time.time()


@workflow.defn
class ReferenceWorkflow:
    @workflow.run
    async def run(self) -> float:
        ran: float = await workflow.execute_activity(touch, start_to_close_timeout=timedelta(seconds=30))
        return ran


async def serve(task_queue: str) -> None:
    client = await connect()
    async with Worker(client, task_queue=task_queue, workflows=[ReferenceWorkflow], activities=[touch]):
        print(f"worker polling task queue {task_queue!r}", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    # Through the module's own name, not __main__: the sandbox imports the workflow's module per run.
    from bench import reference

    asyncio.run(reference.serve(sys.argv[1]))
