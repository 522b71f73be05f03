"""The API's list and show on a store of 10,000 webhooks (one workspace of 2,000 among five), over
HTTP against the ASGI app: the Webhooks page's own reads.

    python -m bench.api [--webhooks 10000] [--database-url postgresql://...]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from api.app import create_app
from bench.pipeline import RESULTS, percentile
from core.config import Settings
from core.temporal import connect
from models.tables import Webhook
from services.access import create_key
from store.migrate import upgrade
from store.queries import Store

WORKSPACES = 5
ROUNDS = 300


async def fill(store: Store, count: int) -> None:
    async with store.session() as session:
        session.add_all(
            Webhook(
                workspace_id=f"ws_{i % WORKSPACES}",
                name=f"hook {i}",
                event_type="tag.applied" if i % 3 else "contact.created",
                filter={"tag": f"tag {i % 50}"} if i % 3 else {},
                url=f"https://h{i}.example/in",
            )
            for i in range(count)
        )
        await session.commit()


async def timed(http: httpx.AsyncClient, path: str, params: dict[str, Any] | None = None) -> list[float]:
    spent = []
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        response = await http.get(path, params=params)
        spent.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200, response.text
    return spent


async def main(count: int, database_url: str | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        url = database_url or f"sqlite:///{Path(tmp) / 'api.db'}"
        upgrade(url)
        store = Store.from_url(url)
        await fill(store, count)
        key = (await create_key(store, "ws_1", "bench")).key
        app = create_app(Settings(database_url=url), store=store, temporal=await connect(lazy=True))
        figures: dict[str, Any] = {"webhooks": count, "store": url.split(":", 1)[0], "rounds": ROUNDS}
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            headers = {"authorization": f"Bearer {key}"}
            async with httpx.AsyncClient(transport=transport, base_url="http://api", headers=headers) as http:
                first = (await http.get("/workspaces/ws_1/webhooks", params={"limit": 50})).json()
                cursor = None
                for _ in range(5):  # 1,000 webhooks in: half-way through the workspace
                    walk = {"limit": 200} | ({"cursor": cursor} if cursor else {})
                    cursor = (await http.get("/workspaces/ws_1/webhooks", params=walk)).json()["next_cursor"]
                runs: dict[str, tuple[str, dict[str, Any] | None]] = {
                    "list first page (50)": ("/workspaces/ws_1/webhooks", {"limit": 50}),
                    "list a page deep in (50)": ("/workspaces/ws_1/webhooks", {"limit": 50, "cursor": cursor}),
                    "list filtered (type, on)": (
                        "/workspaces/ws_1/webhooks",
                        {"limit": 50, "event_type": "contact.created", "enabled": "true"},
                    ),
                    "show one": (f"/workspaces/ws_1/webhooks/{first['items'][7]['id']}", None),
                }
                for name, (path, params) in runs.items():
                    await timed(http, path, params)  # warm
                    spent = await timed(http, path, params)
                    figures[name] = {
                        "p50_ms": round(statistics.median(spent), 2),
                        "p99_ms": round(percentile(spent, 99), 2),
                    }
        await store.close()
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--webhooks", type=int, default=10_000)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    args = parser.parse_args()
    figures = asyncio.run(main(args.webhooks, args.database_url))
    RESULTS.mkdir(exist_ok=True)
    name = f"api-{figures['store']}.json"
    (RESULTS / name).write_text(json.dumps(figures, indent=2) + "\n")
    print(
        f"\n{figures['webhooks']} webhooks in {WORKSPACES} workspaces, store {figures['store']}, {ROUNDS} requests each"
    )
    for key, value in figures.items():
        if isinstance(value, dict):  # one measured read
            print(f"  {key:<28} p50 {value['p50_ms']:>6.2f} ms   p99 {value['p99_ms']:>6.2f} ms")
