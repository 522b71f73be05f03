"""The worker process: wires the client, the store, the HTTP client, the workflows and the
activities together, and stops cleanly on SIGINT or SIGTERM. No logic of its own."""

from __future__ import annotations

import asyncio
import compileall
import signal
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

import workflows
from activities.delivery import DeliveryActivities
from activities.intake import Intake
from activities.matching import MatchingActivities
from activities.notification import NotificationActivities
from activities.retention import RetentionActivities
from activities.timers import TimerActivities
from core.config import Settings
from core.logs import configure_logging
from core.metrics import prometheus_runtime
from core.netguard import http_client
from core.temporal import connect
from store.queries import Store
from workflows.datetime_trigger import DateTimeTriggerWorkflow
from workflows.notification import WorkspaceNotificationWorkflow
from workflows.retention import LedgerRetentionWorkflow
from workflows.trigger_event import TriggerEventWorkflow

ATTEMPT_MARGIN = timedelta(seconds=10)
"""Beyond the request timeout, for the ledger reads and writes around one POST."""

# The project's own modules are deterministic data and rules, and workflows.steps the workflow
# code both workflows share (functions, no state): import them once, not on every run.
SANDBOX = SandboxedWorkflowRunner(
    restrictions=SandboxRestrictions.default.with_passthrough_modules(
        "workflows.steps",
        "models",
        "core",
        "activities",
        "store",
        "httpx",
        "httpcore",
        "sqlalchemy",
        "sqlmodel",
        "pydantic",
    )
)


def workflow_runner(settings: Settings) -> WorkflowRunner:
    return SANDBOX if settings.workflow_sandbox else UnsandboxedWorkflowRunner()


def compile_workflow_modules() -> None:
    """The sandbox imports a workflow's module afresh on every run: from its cached bytecode when
    there is some, otherwise compiled from source each time (a tenth of the worker's CPU at one
    delivery per event). PYTHONDONTWRITEBYTECODE or a fresh checkout leave none, so write it now;
    an installed package has it already, and a read-only folder is left as it is."""
    compileall.compile_dir(Path(workflows.__file__).parent, quiet=2)


@asynccontextmanager
async def build_worker(client: Client, settings: Settings, store: Store | None = None) -> AsyncIterator[Worker]:
    """A worker for the configured task queue, with its store and HTTP client, closed on exit."""
    compile_workflow_modules()
    own_store = store is None
    store = store or Store.from_url(settings.database_url)
    timeout = settings.request_timeout
    async with http_client(allow_private=settings.allow_private_urls, timeout=timeout.total_seconds()) as http:
        delivery = DeliveryActivities(
            store,
            http,
            schedule=settings.retry_schedule,
            request_timeout=timeout,
            disable_after=settings.disable_after,
            intake=Intake(client, store, settings.task_queue),
        )
        notification = NotificationActivities(store, http, schedule=settings.retry_schedule, request_timeout=timeout)
        matching = MatchingActivities(store, attempt_timeout=timeout + ATTEMPT_MARGIN)
        timers = TimerActivities(store, client, settings.task_queue)
        retention = RetentionActivities(store, settings.ledger_retention)
        try:
            yield Worker(
                client,
                task_queue=settings.task_queue,
                workflows=[
                    TriggerEventWorkflow,
                    DateTimeTriggerWorkflow,
                    WorkspaceNotificationWorkflow,
                    LedgerRetentionWorkflow,
                ],
                activities=[
                    matching.match_webhooks,
                    delivery.deliver_first,
                    delivery.deliver,
                    notification.notify_workspace,
                    timers.set_timers,
                    timers.plan_timer,
                    retention.prune_ledger,
                ],
                workflow_runner=workflow_runner(settings),
                max_concurrent_activities=200,
                max_concurrent_local_activities=200,
                # On SIGTERM, attempts under way finish (and reach the ledger) before the worker exits.
                graceful_shutdown_timeout=timeout + ATTEMPT_MARGIN,
            )
        finally:
            await delivery.finish_sends(timeout + ATTEMPT_MARGIN)
            if own_store:
                await store.close()


async def run_worker(settings: Settings) -> None:
    configure_logging()
    # The store first: opening it checks its secrets against the configured key (store.keys), and
    # a worker that could not read them stops here, before it connects or takes any task.
    store = Store.from_url(settings.database_url)
    try:
        runtime = prometheus_runtime(settings.metrics_port) if settings.metrics_port else None
        client = await connect(runtime=runtime)
        async with build_worker(client, settings, store) as worker:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            async with worker:
                target = client.service_client.config.target_host
                metrics = f", metrics on :{settings.metrics_port}/metrics" if settings.metrics_port else ""
                print(f"worker polling task queue {settings.task_queue!r} on {target}{metrics}")
                await stop.wait()
                print("stopping: finishing in-flight deliveries")
    finally:
        await store.close()


def event_loop_runner() -> Callable[[Coroutine[Any, Any, None]], None]:
    """uvloop where it is installed (Linux and macOS): the worker's Python is one core, and the
    event loop's own work was a fifth of it at fan-out 100; uvloop's took 5-10 % off per delivery."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run
    return uvloop.run


if __name__ == "__main__":
    event_loop_runner()(run_worker(Settings()))
