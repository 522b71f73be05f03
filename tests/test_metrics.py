"""The worker's Prometheus endpoint (`webhooks worker --metrics-port`, a real process): the SDK's
own metrics and the pipeline's, with the right counts after known deliveries."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client, WorkflowFailureError

from core.config import Settings
from devstack.processes import WorkerProcess, free_port
from devstack.receiver import Answer, Receiver
from models.samples import sample_event
from models.tables import WebhookCreate
from services.webhooks import create_webhook
from starter import publish
from store.queries import Store

SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][\w:]*)(?:\{(?P<labels>[^}]*)\})? (?P<value>\S+)$")


def value(metrics: str, name: str, **labels: str) -> float:
    """The sum of a metric's samples whose labels include these."""
    total = 0.0
    for line in metrics.splitlines():
        sample = SAMPLE.match(line)
        if not sample or sample["name"] != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', sample["labels"] or ""))
        if labels.items() <= found.items():
            total += float(sample["value"])
    return total


@pytest.fixture
async def metrics_url(client: Client, settings: Settings, tmp_path: Path) -> AsyncIterator[str]:
    port = free_port()
    worker = WorkerProcess(
        "worker", tmp_path / "worker.log", settings.model_copy(update={"metrics_port": port}),
        client.service_client.config.target_host,
    )  # fmt: skip
    worker.start()
    try:
        await worker.ready()
        yield f"http://127.0.0.1:{port}/metrics"
    finally:
        worker.stop()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_metrics_endpoint_counts_what_happened(
    client: Client, settings: Settings, store: Store, receiver: Receiver, metrics_url: str
) -> None:
    for path in ("/ok", "/flaky", "/gone"):
        hook = WebhookCreate(name=path, event_type="tag.applied", url=receiver.url(path))
        await create_webhook(store, "ws_acme", hook, allow_private=True)
    receiver.script("/flaky", [Answer(500)])
    receiver.script("/gone", [Answer(410)])

    event = sample_event("tag.applied", event_id=f"evt_{uuid.uuid4().hex[:10]}")
    with pytest.raises(WorkflowFailureError):
        await (await publish(client, event, task_queue=settings.task_queue)).result()
    async with httpx.AsyncClient() as http:
        metrics = (await http.get(metrics_url)).text

    assert value(metrics, "webhook_deliveries_total", status="delivered", status_class="2xx") == 2
    assert value(metrics, "webhook_deliveries_total", status="failed", status_class="4xx") == 1
    assert value(metrics, "webhook_delivery_attempts_total", outcome="delivered") == 2
    assert value(metrics, "webhook_delivery_attempts_total", outcome="failed", status_class="5xx") == 1
    assert value(metrics, "webhook_delivery_attempts_total", outcome="failed", status_class="4xx") == 1
    assert value(metrics, "webhook_delivery_latency_count") == 4
    assert value(metrics, "webhook_matched_webhooks_count") == 1
    assert value(metrics, "webhook_matched_webhooks_sum") == 3
    assert value(metrics, "webhook_disabled_total", cause="gone") == 1
    # The SDK's own, through the same runtime.
    # The SDK's own: three first attempts as local activities, one durable retry (the flaky one's).
    assert value(metrics, "temporal_local_activity_execution_latency_count", activity_type="deliver_first") == 3
    assert value(metrics, "temporal_activity_execution_latency_count", activity_type="deliver") == 1
    assert value(metrics, "temporal_workflow_failed_total", workflow_type="TriggerEventWorkflow") == 1
