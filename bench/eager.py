"""Eager workflow start, where the starter and a worker share a client (the API's intake in
`webhooks dev`): event-to-receipt latency with and without it, events paced well below capacity.

    python -m bench.eager [--events 100]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

from bench.pipeline import percentile
from core.config import Settings
from devstack.receiver import Receiver
from devstack.stack import ephemeral_environment
from models.samples import sample_event
from models.tables import WebhookCreate
from services.webhooks import create_webhook
from starter import publish
from store.migrate import upgrade
from store.queries import Store
from worker import build_worker

RATE = 5.0
"""Events per second: a fifth of the reference's capacity, so queueing does not hide the start."""


async def main(events: int) -> None:
    async with await ephemeral_environment() as env:
        with tempfile.TemporaryDirectory() as tmp, Receiver() as receiver:
            url = f"sqlite:///{Path(tmp) / 'eager.db'}"
            upgrade(url)
            store = Store.from_url(url)
            settings = Settings(
                database_url=url, task_queue=f"eager-{uuid.uuid4().hex[:6]}", allow_private_urls=True,
                retry_schedule=(timedelta(seconds=1),),
            )  # fmt: skip
            create = WebhookCreate(name="hook", event_type="tag.applied", url=receiver.url("/hook"))
            await create_webhook(store, "ws_bench", create, allow_private=True)
            async with build_worker(env.client, settings, store) as worker, worker:
                for eager in (False, True, False, True):
                    started: dict[str, float] = {}
                    first = len(receiver.requests)
                    for _ in range(events):
                        event = sample_event("tag.applied", event_id=f"evt_{uuid.uuid4().hex}", workspace_id="ws_bench")
                        started[event["event_id"]] = time.monotonic()
                        await publish(env.client, event, task_queue=settings.task_queue, eager=eager)
                        await asyncio.sleep(1 / RATE)
                    await asyncio.to_thread(receiver.wait_for, first + events, 30)
                    ms = [(r.at - started[r.json()["data"]["event_id"]]) * 1000 for r in receiver.requests[first:]]
                    print(
                        f"{'eager' if eager else 'plain'} start: event-to-receipt p50 {percentile(ms, 50):.1f} ms, "
                        f"p99 {percentile(ms, 99):.1f} ms ({events} events at {RATE:g}/s)"
                    )
            await store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100)
    asyncio.run(main(parser.parse_args().events))
