"""Delivery log lines: JSON with the event, workflow, webhook and attempt; never the secret, never
the contact's personal fields, never a webhook's URL. Expected outcomes (a delivery giving up, a
410) are one line each, in the worker's log as in a terminal; a defect keeps its traceback."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from temporalio import activity, workflow
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError

from activities.retries import GAVE_UP
from core.config import Settings
from core.logs import JsonFormatter, configure_logging
from devstack.processes import WorkerProcess, free_port
from devstack.receiver import Answer, DemoPaths, Receiver
from models.payload import notification_workflow_id_for
from models.runs import EventOutcome
from models.samples import sample_event
from models.tables import Webhook, WebhookCreate
from services.webhooks import create_webhook
from starter import publish
from store.queries import Store

PRINTED = (WorkerProcess.READY, "stopping: finishing in-flight deliveries")
"""What the worker process prints itself, beside its log lines."""


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.usefixtures("worker")
async def test_delivery_lines_carry_the_ids_and_nothing_personal_or_secret(
    client: Client, settings: Settings, store: Store, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    hook = await create_webhook(
        store, "ws_acme", WebhookCreate(name="crm", event_type="tag.applied", url=receiver.url("/crm")),
        allow_private=True,
    )  # fmt: skip
    receiver.script("/crm", [Answer(500, body=b"try again")])
    event = sample_event("tag.applied", event_id=f"evt_{uuid.uuid4().hex[:10]}")
    await (await publish(client, event, task_queue=settings.task_queue)).result()

    formatter = JsonFormatter()
    lines = [json.loads(formatter.format(record)) for record in caplog.records]
    attempts = [line for line in lines if line["message"].startswith("delivery attempt")]
    # The first attempt runs as a local activity, the second as the durable one; the count goes on.
    assert [(a["attempt"], a["outcome"], a["status_code"], a["activity_type"]) for a in attempts] == [
        (1, "failed", 500, "deliver_first"),
        (2, "delivered", 200, "deliver"),
    ]
    for line in attempts:
        assert line["workflow_id"] == f"event-ws_acme-{event['event_id']}"
        assert (line["event_id"], line["webhook_id"], line["workspace_id"]) == (event["event_id"], hook.id, "ws_acme")
        assert line["delivery_id"].startswith("msg_")
    everything = "\n".join(formatter.format(record) for record in caplog.records)
    contact = event["contact"]
    for kept_out in (hook.secret, contact["name"], contact["custom_fields"]["email"], "appointment_at"):
        assert kept_out not in everything


@pytest.fixture
async def worker_process(client: Client, settings: Settings, tmp_path: Path) -> AsyncIterator[WorkerProcess]:
    """`webhooks worker` in a process of its own, logging to a file (JSON, as to a log shipper)."""
    worker = WorkerProcess("worker", tmp_path / "worker.log", settings, client.service_client.config.target_host)
    worker.start()
    try:
        await worker.ready()
        yield worker
    finally:
        worker.stop()


async def hook_at(store: Store, receiver: Receiver, path: str, name: str) -> Webhook:
    create = WebhookCreate(name=name, event_type="tag.applied", url=receiver.url(path))
    return await create_webhook(store, "ws_acme", create, allow_private=True)


async def publish_one(client: Client, settings: Settings) -> WorkflowHandle[Any, EventOutcome]:
    event = sample_event("tag.applied", event_id=f"evt_{uuid.uuid4().hex[:10]}")
    return await publish(client, event, task_queue=settings.task_queue)


def log_lines(worker: WorkerProcess) -> list[dict[str, Any]]:
    """Every line of the worker's log, each a JSON document (but the two it prints itself)."""
    lines = worker.log_path.read_text().splitlines()
    return [json.loads(line) for line in lines if line not in PRINTED and not line.startswith(PRINTED[0])]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_worker_process_never_logs_a_webhooks_url(
    client: Client, settings: Settings, store: Store, receiver: Receiver, worker_process: WorkerProcess
) -> None:
    # A Slack or Zapier hook's URL is its credential: the path is the secret.
    secret_path = "/services/T0000/B0000/xoxb-url-secret-4f2a"
    await hook_at(store, receiver, secret_path, "slack")
    receiver.script(secret_path, [Answer(503)])  # a failure and a success: both kinds of line
    # A 410 turns a webhook off, and the workspace is told: logged, as no notification URL is set.
    gone_path = "/services/T0000/B0001/xoxb-gone-secret-77c1"
    gone = await hook_at(store, receiver, gone_path, "slack gone")
    receiver.script(gone_path, [Answer(410)])

    handle = await publish_one(client, settings)
    with contextlib.suppress(WorkflowFailureError):
        await handle.result()
    event_id = handle.id.removeprefix("event-ws_acme-")
    await client.get_workflow_handle(notification_workflow_id_for("ws_acme", gone.id, event_id)).result()
    worker_process.stop()

    assert len(receiver.at(secret_path)) == 2
    log = worker_process.log_path.read_text()
    assert "delivery attempt 2 to 127.0.0.1: HTTP 200" in log
    [told] = [line["message"] for line in log_lines(worker_process) if line["message"].startswith("webhook.disabled")]
    assert json.loads(told.removeprefix("webhook.disabled: "))["webhook"] == {"id": gone.id, "name": "slack gone"}
    assert "xoxb-" not in log


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_delivery_that_gives_up_is_one_line_in_the_worker_log(
    client: Client, settings: Settings, store: Store, receiver: Receiver, worker_process: WorkerProcess
) -> None:
    receiver.decide = DemoPaths()
    failing = await hook_at(store, receiver, "/fail", "failing")  # gives up when the schedule runs out
    gone = await hook_at(store, receiver, "/gone", "gone")  # gives up at once
    down = await create_webhook(
        store, "ws_acme", WebhookCreate(name="down", event_type="tag.applied", url=f"http://127.0.0.1:{free_port()}/"),
        allow_private=True,
    )  # fmt: skip

    with pytest.raises(WorkflowFailureError):
        await (await publish_one(client, settings)).result()
    worker_process.stop()

    lines = log_lines(worker_process)  # each line JSON: no traceback runs over several
    gave_up = {line["webhook_id"]: line for line in lines if line["message"].startswith("delivery failed for good")}
    assert gave_up[failing.id]["message"] == "delivery failed for good: HTTP 500; gave up after 3 attempts"
    assert gave_up[gone.id]["message"].startswith("delivery failed for good: HTTP 410 Gone")
    assert gave_up[down.id]["message"].startswith("delivery failed for good: cannot connect:")
    assert all(line["level"] == "warning" and "error" not in line for line in gave_up.values())
    assert "Traceback" not in worker_process.log_path.read_text()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_defect_in_an_activity_keeps_its_traceback(
    client: Client, settings: Settings, store: Store, receiver: Receiver, worker_process: WorkerProcess
) -> None:
    hook = await hook_at(store, receiver, "/crm", "crm")
    # A stored body format that no release writes: shaping the request breaks, which is a defect.
    async with store.engine.begin() as conn:
        await conn.execute(
            text("UPDATE webhooks SET body_format = 'yaml', body_template = 'x' WHERE id = :id"), {"id": hook.id}
        )
    handle = await publish_one(client, settings)
    try:
        deadline = time.monotonic() + 60
        while "is not a valid BodyFormat" not in worker_process.log_path.read_text():
            assert time.monotonic() < deadline, worker_process.log_tail()
            await asyncio.sleep(0.2)
    finally:
        await handle.terminate("the test is over")
    worker_process.stop()

    [broke, *_] = [line for line in log_lines(worker_process) if "is not a valid BodyFormat" in line.get("error", "")]
    assert broke["message"] == "Completing activity as failed" and broke["level"] == "warning"
    assert broke["error"].startswith("Traceback (most recent call last):")
    assert "ValueError: 'yaml' is not a valid BodyFormat" in broke["error"]
    assert receiver.requests == []


@pytest.fixture
def own_logging() -> Iterator[None]:
    """The test run's logging, put back after a test that sets up the processes' own."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level
    activity.logger.activity_info_on_message = workflow.logger.workflow_info_on_message = True


def raised(error: Exception) -> Exception:
    try:
        raise error
    except Exception as caught:
        return caught


@pytest.mark.usefixtures("own_logging")
def test_in_a_terminal_an_expected_failure_is_one_line_and_a_defect_its_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The worker's logging as `webhooks worker` or `webhooks dev` sets it up in a terminal, in this
    # process: the same handler and formatter, writing to this test's stderr.
    configure_logging(as_json=False)
    log = logging.getLogger("temporalio.activity")
    given_up = raised(ApplicationError("HTTP 500; gave up after 3 attempts", type=GAVE_UP, non_retryable=True))
    details = {"workflow_id": "event-ws_acme-evt_1", "activity_type": "deliver", "attempt": 3}
    log.warning("Completing activity as failed", exc_info=given_up, extra={"temporal_activity": details})
    log.warning("delivery failed for good: HTTP 500", extra={"temporal_activity": details, "delivery_id": "msg_1"})
    log.warning("Completing activity as failed", exc_info=raised(KeyError("webhook_id")))

    expected, gave_up, defect = capsys.readouterr().err.split("\n", 2)
    assert expected.endswith(
        " WARNING Completing activity as failed [event-ws_acme-evt_1]: "
        "DeliveryGaveUp: HTTP 500; gave up after 3 attempts"
    )
    assert gave_up.endswith(" WARNING delivery failed for good: HTTP 500 [event-ws_acme-evt_1, msg_1]")
    defect_line, traceback = defect.split("\n", 1)
    assert defect_line.endswith(" WARNING Completing activity as failed")
    assert traceback.startswith("Traceback (most recent call last):")
    assert traceback.rstrip().endswith("KeyError: 'webhook_id'")
