"""What one event costs in Temporal: history events, history bytes and billable actions per event,
at fan-out 1, 10 and 100, with a 20 KiB contact. Part of `make bench`; prints and writes
bench/results/history.json.

Events come in through the API's intake, which sets WebhookIds at start; one event started as
another SDK would start it shows what such a start costs (an upsert more). Actions are counted from
the histories as Temporal Cloud bills them: the workflow start, each activity attempt, each workflow
task's batch of local activities, each search-attribute upsert, timer, signal and child workflow start.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio.client import Client

from core.config import Settings
from devstack.billing import billable_actions
from devstack.receiver import Receiver
from devstack.stack import ephemeral_environment
from models.events import parse_event
from models.samples import sample_event
from models.tables import WebhookCreate
from services.events import accept_event
from services.webhooks import create_webhook
from starter import publish
from store.migrate import upgrade
from store.queries import Store
from worker import build_worker

RESULTS = Path(__file__).parent / "results"
CONTACT_BYTES = 20 * 1024
EVENTS = 5


async def measure(client: Client, fan_out: int, workdir: Path) -> dict[str, Any]:
    run = f"history-{fan_out}-{uuid.uuid4().hex[:6]}"
    url = f"sqlite:///{workdir / f'{run}.db'}"
    upgrade(url)
    store = Store.from_url(url)
    settings = Settings(
        database_url=url, task_queue=run, allow_private_urls=True, retry_schedule=(timedelta(seconds=1),)
    )
    totals = {"events": 0, "bytes": 0, "actions": 0}
    event_bytes = 0
    with Receiver() as receiver:
        for i in range(fan_out):
            create = WebhookCreate(name=f"hook {i}", event_type="tag.applied", url=receiver.url(f"/{i}"))
            await create_webhook(store, "ws_bench", create, allow_private=True)
        async with build_worker(client, settings, store) as worker, worker:
            for n in range(EVENTS):
                event = sample_event("tag.applied", event_id=f"evt_{run}_{n}", workspace_id="ws_bench")
                event["contact"]["custom_fields"]["notes"] = "n" * CONTACT_BYTES
                event_bytes = len(json.dumps(event))
                handle = await accept_event(store, client, run, parse_event(event))  # the API's intake
                await handle.result()
                history = await handle.fetch_history()
                totals["events"] += len(history.events)
                totals["bytes"] += sum(e.ByteSize() for e in history.events)
                totals["actions"] += billable_actions(history.events)
            # A start from another SDK sets no WebhookIds: the workflow upserts them.
            raw = sample_event("tag.applied", event_id=f"evt_{run}_raw", workspace_id="ws_bench")
            handle = await publish(client, raw, task_queue=run)
            await handle.result()
            raw_actions = billable_actions((await handle.fetch_history()).events)
    await store.close()
    per_event = {key: value / EVENTS for key, value in totals.items()}
    bound = 2 * event_bytes + 1024 * fan_out
    return {
        "fan_out": fan_out,
        "event_bytes": event_bytes,
        "history_events_per_event": per_event["events"],
        "history_bytes_per_event": per_event["bytes"],
        "history_bytes_bound": bound,
        "within_bound": per_event["bytes"] <= bound,
        "actions_per_event": per_event["actions"],
        "actions_per_event_started_elsewhere": raw_actions,
        # Every first attempt succeeds: the start and one workflow task's local activities (and the
        # upsert of WebhookIds for a start that did not set them).
        "actions_target": 2,
        "actions_target_started_elsewhere": 3,
    }


async def main() -> list[dict[str, Any]]:
    async with await ephemeral_environment() as env:
        with tempfile.TemporaryDirectory() as tmp:
            return [await measure(env.client, fan_out, Path(tmp)) for fan_out in (1, 10, 100)]


def show(rows: list[dict[str, Any]]) -> None:
    print(f"\nper event, with a {CONTACT_BYTES // 1024} KiB contact ({EVENTS} events each)")
    print(f"{'fan-out':>8}{'history events':>16}{'history bytes':>15}{'bound':>10}{'actions':>9}{'target':>8}", end="")
    print(f"{'actions (raw start)':>21}")
    for r in rows:
        print(
            f"{r['fan_out']:>8}{r['history_events_per_event']:>16.0f}{r['history_bytes_per_event']:>15,.0f}"
            f"{r['history_bytes_bound']:>10,}{r['actions_per_event']:>9.0f}{r['actions_target']:>8}"
            f"{r['actions_per_event_started_elsewhere']:>21}"
        )


if __name__ == "__main__":
    rows = asyncio.run(main())
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "history.json").write_text(json.dumps(rows, indent=2) + "\n")
    show(rows)
