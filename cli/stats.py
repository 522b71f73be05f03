"""`webhooks hook stats`: a webhook's health over the last 24 hours and 7 days (services.stats)."""

from __future__ import annotations

import typer

from cli.common import HookId, Workspace, with_store
from cli.output import JsonOption, emit, table
from models.stats import HealthWindow, milliseconds, percent
from models.tables import DeliveryStatus
from services.stats import webhook_stats


def hook_stats(hook_id: HookId, workspace: Workspace, json_: bool = JsonOption) -> None:
    """A webhook's deliveries of the last 24 hours and 7 days by outcome, with the success rate
    (delivered / (delivered + failed)) and the latency p50/p95 of the delivered ones; tests left
    out. --json adds the hourly and daily buckets."""
    stats = with_store(lambda store: webhook_stats(store, workspace, hook_id))

    def human() -> None:
        typer.echo(f"{stats.webhook_id} at {stats.generated_at:%Y-%m-%d %H:%M:%S} UTC (test sends not counted)")
        table(
            [row("last 24h", stats.last_24h), row("last 7d", stats.last_7d)],
            ["WINDOW", "TOTAL", *(s.upper() for s in DeliveryStatus), "SUCCESS", "P50", "P95"],
        )

    emit(stats, json_, human)


def row(name: str, window: HealthWindow) -> list[str | int]:
    return [
        name,
        window.total,
        *(window.by_outcome[s] for s in DeliveryStatus),
        percent(window.success_rate),
        milliseconds(window.latency_ms_p50),
        milliseconds(window.latency_ms_p95),
    ]
