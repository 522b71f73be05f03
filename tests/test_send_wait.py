"""`webhooks send --wait` as a user runs it, in a process of its own, read line by line: the
workflow id and UI link at once, each attempt's outcome as the ledger records it, then the result;
Ctrl-C stops the waiting, says how to follow the delivery, and leaves it running in Temporal."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import sys
import threading
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.worker import Worker

from cli.started import INTERRUPTED
from core.config import Settings
from devstack.receiver import DemoPaths, Received, Receiver
from models.samples import sample_event
from models.tables import Webhook, WebhookCreate
from services.webhooks import create_webhook
from store.queries import Store
from worker import build_worker

WEBHOOKS = str(Path(sys.executable).parent / "webhooks")

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def demo(receiver: Receiver) -> Receiver:
    receiver.decide = DemoPaths()
    return receiver


@pytest.fixture
async def hour_away_worker(client: Client, settings: Settings, store: Store) -> AsyncIterator[Worker]:
    """A worker whose one retry comes an hour after a failed first attempt: longer than any test."""
    patient = settings.model_copy(update={"retry_schedule": (timedelta(hours=1),)})
    async with build_worker(client, patient, store) as worker, worker:
        yield worker


async def hook_at(store: Store, demo: Receiver, path: str) -> Webhook:
    create = WebhookCreate(name=f"demo {uuid.uuid4().hex[:6]}", event_type="tag.applied", url=demo.url(path))
    return await create_webhook(store, "ws_acme", create, allow_private=True)


async def send_wait(client: Client, settings: Settings, tmp_path: Path, **env: str) -> asyncio.subprocess.Process:
    """`webhooks send EVENT.json --wait` for a fresh event, its output piped."""
    event = sample_event("tag.applied", event_id=f"evt_{uuid.uuid4().hex[:10]}")
    path = tmp_path / f"{event['event_id']}.json"
    path.write_text(json.dumps(event))
    cli_env = {
        "WEBHOOKS_DATABASE_URL": settings.database_url,
        "WEBHOOKS_TASK_QUEUE": settings.task_queue,
        "TEMPORAL_ADDRESS": client.service_client.config.target_host,
        "TEMPORAL_NAMESPACE": client.namespace,
    }
    return await asyncio.create_subprocess_exec(
        WEBHOOKS, "send", str(path), "--wait",
        env=os.environ | cli_env | env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def next_line(process: asyncio.subprocess.Process) -> str:
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), timeout=60)
    assert line, "the command ended early"
    return line.decode().rstrip("\n")


@pytest.mark.usefixtures("hour_away_worker")
async def test_it_shows_the_workflow_at_once_then_the_failed_attempt_and_ctrl_c_leaves_it_running(
    client: Client, settings: Settings, store: Store, demo: Receiver, tmp_path: Path
) -> None:
    hook = await hook_at(store, demo, "/fail")
    answer = threading.Event()

    def hold_the_answer(_: Received) -> None:  # the first attempt's answer waits for the test
        answer.wait(30)

    demo.on_request = hold_the_answer

    send = await send_wait(client, settings, tmp_path)
    workflow, ui, waiting = [await next_line(send) for _ in range(3)]
    # Printed while the receiver still holds back its answer to the first attempt: before any outcome.
    assert [row.attempts for row in await store.list_deliveries(hook.id)] in ([], [0])
    workflow_id = workflow.removeprefix("workflow  ")
    assert workflow_id.startswith("event-ws_acme-evt_")
    assert ui == f"ui        http://localhost:8233/namespaces/default/workflows/{workflow_id}"
    assert waiting.startswith("waiting   ")

    answer.set()
    progress = await next_line(send)
    assert re.fullmatch(
        rf"progress  {hook.id}  attempt 1 failed: HTTP 500; attempt 2 at \d\d:\d\d:\d\d UTC \(in \d+ min\)", progress
    ), progress

    send.send_signal(signal.SIGINT)
    out, err = await asyncio.wait_for(send.communicate(), timeout=30)
    assert send.returncode == INTERRUPTED
    assert out == b"", "nothing more on stdout: no result"
    assert err.decode().splitlines() == [
        f"stopped waiting; the delivery goes on in Temporal ({workflow_id}). Follow it:",
        f"  http://localhost:8233/namespaces/default/workflows/{workflow_id}",
        # As it was run: from the venv, not on PATH here.
        f"  {WEBHOOKS if shutil.which('webhooks') != WEBHOOKS else 'webhooks'} deliveries list -w ws_acme"
        " --contact c_42 --event tag.applied",
    ]
    handle = client.get_workflow_handle(workflow_id)
    assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
    await handle.terminate("the test is over")


@pytest.mark.usefixtures("worker")
async def test_it_shows_each_attempt_then_the_result(
    client: Client, settings: Settings, store: Store, demo: Receiver, tmp_path: Path
) -> None:
    hook = await hook_at(store, demo, "/flaky/1")
    retry = threading.Event()

    def hold_the_retry(_: Received) -> None:  # answered once the test read what the first attempt came to
        if len(demo.requests) > 1:
            retry.wait(30)

    demo.on_request = hold_the_retry

    send = await send_wait(client, settings, tmp_path)
    lines = [await next_line(send) for _ in range(4)]
    retry.set()
    out, err = await asyncio.wait_for(send.communicate(), timeout=60)
    lines += out.decode().splitlines()

    assert send.returncode == 0, err.decode()
    labels = [line.split("  ")[0] for line in lines]
    assert labels == ["workflow", "ui", "waiting", "progress", "progress", "result", ""]
    assert lines[3].startswith(f"progress  {hook.id}  attempt 1 failed: HTTP 500; attempt 2 at ")
    assert lines[4] == f"progress  {hook.id}  delivered after 2 attempts: HTTP 200"
    assert lines[5] == "result    1 delivered, 0 skipped, 0 failed of 1 matched"


@pytest.mark.usefixtures("worker")
async def test_a_ledger_it_cannot_read_is_said_once_and_the_result_still_comes(
    client: Client, settings: Settings, store: Store, demo: Receiver, tmp_path: Path
) -> None:
    await hook_at(store, demo, "/orders")
    elsewhere = f"sqlite:///{tmp_path / 'not-here' / 'webhooks.db'}"
    send = await send_wait(client, settings, tmp_path, WEBHOOKS_DATABASE_URL=elsewhere)
    out, err = await asyncio.wait_for(send.communicate(), timeout=60)

    lines = out.decode().splitlines()
    assert send.returncode == 0, err.decode()
    [said] = [line for line in lines if line.startswith("progress")]
    assert said == "progress  not shown, the ledger cannot be read (no such table: deliveries); waiting for the result"
    assert "result    1 delivered, 0 skipped, 0 failed of 1 matched" in lines
