"""The project's own metrics, recorded through the Temporal SDK's metric meter, so they reach the
same Prometheus endpoint as the SDK's (`webhooks worker --metrics-port`). Labels stay low in
cardinality: no webhook, workspace or contact ids."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig


def prometheus_runtime(port: int, host: str = "0.0.0.0") -> Runtime:
    """A runtime whose metrics (the SDK's and ours) are served at http://HOST:PORT/metrics; on
    every interface by default, since Prometheus scrapes from elsewhere."""
    prometheus = PrometheusConfig(bind_address=f"{host}:{port}", counters_total_suffix=True, durations_as_seconds=True)
    return Runtime(telemetry=TelemetryConfig(metrics=prometheus))


def status_class(status_code: int | None) -> str:
    return f"{status_code // 100}xx" if status_code is not None else "none"


def attempt(outcome: str, status_code: int | None, latency: timedelta) -> None:
    """One POST: `outcome` is delivered, retry, gave_up or turned_off."""
    meter = activity.metric_meter()
    labels = {"outcome": outcome, "status_class": status_class(status_code)}
    meter.create_counter("webhook_delivery_attempts", "POSTs to receivers, by outcome and HTTP status class").add(
        1, labels
    )
    meter.create_histogram_timedelta("webhook_delivery_latency", "Time from sending a POST to its answer").record(
        latency, labels
    )


def delivery(status: str, status_code: int | None) -> None:
    """A delivery's end: delivered, failed (gave up) or skipped (the webhook was off or deleted),
    with the class of its last answer."""
    labels = {"status": status, "status_class": status_class(status_code)}
    activity.metric_meter().create_counter("webhook_deliveries", "Deliveries by how they ended").add(1, labels)


def matched(count: int) -> None:
    activity.metric_meter().create_histogram("webhook_matched_webhooks", "Webhooks an event matched").record(count)


def disabled(cause: str) -> None:
    """A webhook turned off by the pipeline: `gone` (410) or `failing` (no 2xx for too long)."""
    activity.metric_meter().create_counter("webhook_disabled", "Webhooks the pipeline turned off").add(
        1, {"cause": cause}
    )


def held(cause: str) -> None:
    """A delivery held back before its request: `limit` (its webhook's rate or cap), `paused` (a
    receiver's Retry-After), `order` (behind an earlier event of its contact) or `sending` (another
    attempt of the same delivery is under way) or `late` (the attempt's time ran out before its request)."""
    activity.metric_meter().create_counter("webhook_deliveries_held", "Deliveries held back for their turn").add(
        1, {"cause": cause}
    )
