"""`webhooks hook stats`: a webhook's health over the last 24 hours and 7 days (services.stats)."""

from __future__ import annotations

import typer

from cli.common import HookId, with_store, workspace_of
from cli.output import JsonOption, emit, table
from models.stats import HealthWindow, WebhookStats, milliseconds, percent
from models.tables import DeliveryStatus
from services.stats import webhook_stats
from store.queries import Store


def hook_stats(hook_id: HookId, json_: bool = JsonOption) -> None:
    """A webhook's deliveries of the last 24 hours and 7 days by outcome, with the success rate
    (delivered / (delivered + failed)) and the latency p50/p95 of the delivered ones; tests left
    out. --json adds the hourly and daily buckets."""
    stats = with_store(lambda store: webhook_stats_of(store, hook_id))

    def human() -> None:
        typer.echo(f"{stats.webhook_id} at {stats.generated_at:%Y-%m-%d %H:%M:%S} UTC (test sends not counted)")
        table(
            [row("last 24h", stats.last_24h), row("last 7d", stats.last_7d)],
            ["WINDOW", "TOTAL", *(s.upper() for s in DeliveryStatus), "SUCCESS", "P50", "P95"],
        )

    emit(stats, json_, human)


async def webhook_stats_of(store: Store, hook_id: str) -> WebhookStats:
    return await webhook_stats(store, await workspace_of(store, hook_id), hook_id)


def row(name: str, window: HealthWindow) -> list[str | int]:
    return [
        name,
        window.total,
        *(window.by_outcome[s] for s in DeliveryStatus),
        percent(window.success_rate),
        milliseconds(window.latency_ms_p50),
        milliseconds(window.latency_ms_p95),
    ]
