"""Tracing: off by default; with a span processor (what an OTLP exporter configures), an event's
spans run from the start of its workflow through the delivery attempt, and carry no contact data."""

from __future__ import annotations

import uuid

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from temporalio.client import Client

from core.config import Settings
from core.temporal import converter_for
from core.tracing import tracing_interceptors
from devstack.receiver import Receiver
from models.samples import sample_event
from models.tables import WebhookCreate
from services.webhooks import create_webhook
from starter import publish
from store.queries import Store
from worker import build_worker


def test_tracing_is_off_unless_an_exporter_is_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    assert tracing_interceptors() == []
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    assert len(tracing_interceptors()) == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_an_events_spans_reach_the_exporter(
    client: Client, settings: Settings, store: Store, receiver: Receiver
) -> None:
    spans = InMemorySpanExporter()
    traced = await Client.connect(
        client.service_client.config.target_host,
        namespace=client.namespace,
        data_converter=converter_for(None),
        interceptors=tracing_interceptors(SimpleSpanProcessor(spans)),
    )
    await create_webhook(
        store, "ws_acme", WebhookCreate(name="crm", event_type="tag.applied", url=receiver.url("/crm")),
        allow_private=True,
    )  # fmt: skip
    event = sample_event("tag.applied", event_id=f"evt_{uuid.uuid4().hex[:10]}")
    async with build_worker(traced, settings, store) as worker, worker:
        await (await publish(traced, event, task_queue=settings.task_queue)).result()

    names = {span.name for span in spans.get_finished_spans()}
    assert {
        "StartWorkflow:TriggerEventWorkflow",
        "RunWorkflow:TriggerEventWorkflow",
        "RunActivity:deliver_first",
    } <= names
    traces = {span.context.trace_id for span in spans.get_finished_spans() if "TriggerEventWorkflow" in span.name}
    assert len(traces) == 1, "one trace from the start to the delivery"
    assert "Jane Doe" not in str([dict(span.attributes or {}) for span in spans.get_finished_spans()])
