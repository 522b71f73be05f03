"""Delivery log lines: JSON with the event, workflow, webhook and attempt; never the secret, never
the contact's personal fields."""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path

import pytest
from temporalio.client import Client

from core.config import Settings
from core.logs import JsonFormatter
from devstack.processes import WorkerProcess
from devstack.receiver import Answer, Receiver
from models.samples import sample_event
from models.tables import WebhookCreate
from services.webhooks import create_webhook
from starter import publish
from store.queries import Store


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


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_worker_process_never_logs_a_webhooks_url(
    client: Client, settings: Settings, store: Store, receiver: Receiver, tmp_path: Path
) -> None:
    # A Slack or Zapier hook's URL is its credential: the path is the secret.
    secret_path = "/services/T0000/B0000/xoxb-url-secret-4f2a"
    await create_webhook(
        store, "ws_acme", WebhookCreate(name="slack", event_type="tag.applied", url=receiver.url(secret_path)),
        allow_private=True,
    )  # fmt: skip
    receiver.script(secret_path, [Answer(503)])  # a failure and a success: both kinds of line
    worker = WorkerProcess("worker", tmp_path / "worker.log", settings, client.service_client.config.target_host)
    worker.start()
    try:
        await worker.ready()
        event = sample_event("tag.applied", event_id=f"evt_{uuid.uuid4().hex[:10]}")
        await (await publish(client, event, task_queue=settings.task_queue)).result()
    finally:
        worker.stop()

    assert len(receiver.at(secret_path)) == 2
    log = (tmp_path / "worker.log").read_text()
    assert "delivery attempt 2 to 127.0.0.1: HTTP 200" in log
    assert "xoxb-url-secret" not in log
