"""OpenTelemetry tracing through the Temporal SDK's contrib interceptor: off unless an OTLP
exporter is configured the standard way (`OTEL_EXPORTER_OTLP_ENDPOINT` or
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, plus `OTEL_SERVICE_NAME`, headers...). Spans follow an event
from the start of its workflow through each delivery attempt."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import SpanProcessor
    from temporalio.client import Interceptor

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def tracing_interceptors(processor: SpanProcessor | None = None) -> list[Interceptor]:
    """The tracing interceptor (for clients, and the workers made from them) when an exporter is
    configured (or a span processor given); none otherwise."""
    if processor is None and not any(os.environ.get(name) for name in ENDPOINT_VARIABLES):
        return []
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from temporalio.contrib.opentelemetry import TracingInterceptor
    except ImportError:
        raise SystemExit("tracing is configured but not installed: pip install 'chatbot-webhooks[tracing]'") from None
    if processor is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        processor = BatchSpanProcessor(OTLPSpanExporter())
    service = os.environ.get("OTEL_SERVICE_NAME", "chatbot-webhooks")
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(processor)
    return [TracingInterceptor(provider.get_tracer("chatbot-webhooks"))]
