"""The Webhooks page's own cost: each page rendered 100 times over HTTP (the ASGI app through
httpx, the sign-in cookie checked each time) on a workspace of 100 webhooks, with how much
markup it makes and how much crosses the wire gzipped. Part of `make bench`.

    python -m bench.console
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

import httpx

from api.app import create_app
from bench.pipeline import percentile
from console.session import KEY_COOKIE
from core.config import Settings
from models.tables import WebhookCreate
from services.access import create_key
from services.webhooks import create_webhook
from store.migrate import upgrade
from store.queries import Store

WEBHOOKS = 100
REQUESTS = 100


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'console.db'}"
        upgrade(url)
        store = Store.from_url(url)
        for i in range(WEBHOOKS):
            create = WebhookCreate(
                name=f"hook {i}", event_type="tag.applied", url=f"https://crm.example.com/{i}", filter={"tag": "VIP"}
            )
            await create_webhook(store, "ws_bench", create, allow_private=True)
        key = (await create_key(store, "ws_bench", "bench")).key
        hook = (await store.list_webhooks("ws_bench", limit=1))[0]
        app = create_app(Settings(database_url=url), store=store)
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=transport, base_url="http://bench", headers={"accept-encoding": "gzip"}
            ) as http,
        ):
            http.cookies.set(KEY_COOKIE, key, path="/console")
            print(f"\nthe console on SQLite, a workspace of {WEBHOOKS} webhooks, {REQUESTS} requests each")
            print(f"{'page':<24}{'p50 ms':>8}{'p99 ms':>8}{'markup':>10}{'sent':>9}")
            pages = {
                f"list of {WEBHOOKS}": "/console/w/ws_bench",
                "one webhook": f"/console/w/ws_bench/webhooks/{hook.id}",
                "create form": "/console/w/ws_bench/webhooks/new",
            }
            for name, path in pages.items():
                took = []
                for _ in range(REQUESTS):
                    started = time.perf_counter()
                    answer = await http.get(path)
                    took.append((time.perf_counter() - started) * 1000)
                    answer.raise_for_status()
                markup, sent = len(answer.content), answer.num_bytes_downloaded
                p50, p99 = percentile(took, 50), percentile(took, 99)
                print(f"{name:<24}{p50:>8.1f}{p99:>8.1f}{markup / 1024:>8.0f} KiB{sent / 1024:>6.0f} KiB")
        await store.close()


if __name__ == "__main__":
    asyncio.run(main())
