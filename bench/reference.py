"""The reference for `make bench` (issue 13): one workflow running one activity that POSTs the body a
delivery carries to the same receiver, with one `httpx` client the worker shares (the pipeline's
own factory, so the same pool and timeouts), its workflow run as the pipeline's are (in the sandbox
or not, as WEBHOOKS_WORKFLOW_SANDBOX says). Its worker is a process of its own
(`python -m bench.reference TASK_QUEUE`), as the pipeline's is."""

from __future__ import annotations

import asyncio
import compileall
import json
import sys
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from temporalio import activity, workflow
from temporalio.worker import Worker

with workflow.unsafe.imports_passed_through():
    from core.config import Settings
    from core.netguard import http_client
    from core.temporal import connect

TIMEOUT = timedelta(seconds=30)


@dataclass(frozen=True)
class ReferencePost:
    """What the workflow is started with: the event's body travels in its input, as the pipeline's
    event does, and its webhook-id lets the sink check that each arrived exactly once."""

    url: str
    body: dict[str, Any]
    webhook_id: str


class Poster:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    @activity.defn
    async def post(self, request: ReferencePost) -> None:
        response = await self.http.post(
            request.url,
            content=json.dumps(request.body).encode(),
            headers={"content-type": "application/json", "webhook-id": request.webhook_id},
        )
        response.raise_for_status()


@workflow.defn
class ReferenceWorkflow:
    @workflow.run
    async def run(self, request: ReferencePost) -> None:
        await workflow.execute_activity_method(Poster.post, request, start_to_close_timeout=TIMEOUT)


async def serve(task_queue: str) -> None:
    # Imported here: the sandbox re-imports this module on every run, and needs none of the worker's.
    from worker import workflow_runner

    # As the pipeline's worker does for its workflows: with PYTHONDONTWRITEBYTECODE the sandbox
    # would compile this module from source on every run, a cost the pipeline does not pay.
    compileall.compile_file(__file__, quiet=2)
    client = await connect()
    settings = Settings()
    async with http_client(allow_private=True, timeout=settings.request_timeout.total_seconds()) as http:
        poster = Poster(http)
        async with Worker(
            client,
            task_queue=task_queue,
            workflows=[ReferenceWorkflow],
            activities=[poster.post],
            workflow_runner=workflow_runner(settings),
            max_concurrent_activities=200,
        ):
            print(f"worker polling task queue {task_queue!r}", flush=True)
            await asyncio.Event().wait()


if __name__ == "__main__":
    # Through the module's own name, not __main__: the sandbox imports the workflow's module per run.
    from bench import reference

    asyncio.run(reference.serve(sys.argv[1]))
