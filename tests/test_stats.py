"""A webhook's health (`GET .../webhooks/{id}/stats`, `webhooks hook stats`, the chart on its console
page): ledger rows written straight into the store with known statuses, latencies and times, and
every number checked against one computed here from the same rows, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import random
import re
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from playwright.async_api import Browser, expect
from sqlalchemy import insert, text
from test_console import console, sign_in  # noqa: F401  (the console served on 127.0.0.1, a fixture)
from typer.testing import CliRunner

from cli.main import app as cli
from core.config import Settings
from core.errors import NotFound
from models.stats import DAY, HOUR, HealthWindow, WebhookStats
from models.tables import Delivery, DeliveryStatus, Webhook, utcnow
from services.stats import webhook_stats
from store.queries import Store
from store.stats import outcomes_query, percentiles_query

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
WS = "ws_acme"
ONE_STORE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@dataclass(frozen=True)
class Row:
    """One ledger row to write: created `age` before the time asked about."""

    age: timedelta
    status: DeliveryStatus
    latency_ms: float | None = None
    is_test: bool = False


async def webhook(store: Store, workspace: str = WS) -> str:
    name = f"hook {uuid.uuid4().hex[:6]}"
    hook = Webhook(name=name, event_type="tag.applied", url="https://crm.example/in", workspace_id=workspace)
    await store.add(hook)
    return hook.id


async def write(store: Store, webhook_id: str, rows: Sequence[Row], now: datetime = NOW) -> None:
    ledger = []
    for row in rows:
        event_id = f"evt_{uuid.uuid4().hex[:12]}"
        ledger.append(
            Delivery(
                id=f"msg_{uuid.uuid4().hex[:20]}", workspace_id=WS, event_id=event_id, webhook_id=webhook_id,
                event_type="tag.applied", workflow_id=f"event-{WS}-{event_id}", is_test=row.is_test,
                status=row.status, attempts=1, latency_ms=row.latency_ms, created_at=now - row.age,
            ).model_dump()
        )  # fmt: skip
    async with store.engine.begin() as conn:
        await conn.execute(insert(Delivery), ledger)


def mixed_rows(seed: int, count: int) -> list[Row]:
    """Deliveries over the last 8 days in every status; latencies on a coarse grid, so that some
    are equal (ties the percentiles must rank as the test does), on failed ones too (not counted)."""
    rng = random.Random(seed)
    statuses = list(DeliveryStatus)
    rows = []
    for _ in range(count):
        status = rng.choices(statuses, weights=[1, 12, 3, 1, 1])[0]
        timed = status in (DeliveryStatus.DELIVERED, DeliveryStatus.FAILED)
        latency = rng.randrange(1, 400) * 2.5 if timed else None
        rows.append(Row(timedelta(seconds=rng.uniform(0, 8 * 86400)), status, latency))
    return rows


def nearest_rank(values: list[float], percent: int) -> float:
    """The smallest value that at least `percent` % of them do not exceed."""
    ordered = sorted(values)
    return ordered[-(-percent * len(ordered) // 100) - 1]


def check_window(window: HealthWindow, rows: Sequence[Row], span: timedelta, width: timedelta) -> None:
    """The window of `span` before NOW, cut in buckets of `width`, against the rows it should hold."""
    since = NOW - span
    inside = [r for r in rows if not r.is_test and since <= NOW - r.age < NOW]
    by_outcome = Counter(r.status for r in inside)
    in_bucket = Counter(((NOW - r.age - since) // width, r.status) for r in inside)
    assert (window.since, window.until, window.total) == (since, NOW, len(inside))
    assert window.by_outcome == {s: by_outcome[s] for s in DeliveryStatus}
    assert [(b.start, b.end) for b in window.buckets] == [
        (since + width * n, since + width * (n + 1)) for n in range(span // width)
    ]
    assert [b.by_outcome for b in window.buckets] == [
        {s: in_bucket[(n, s)] for s in DeliveryStatus} for n in range(span // width)
    ]
    assert [b.total for b in window.buckets] == [sum(b.by_outcome.values()) for b in window.buckets]
    delivered, failed = by_outcome[DeliveryStatus.DELIVERED], by_outcome[DeliveryStatus.FAILED]
    assert window.success_rate == pytest.approx(delivered / (delivered + failed))
    latencies = [r.latency_ms for r in inside if r.status == DeliveryStatus.DELIVERED and r.latency_ms is not None]
    assert window.latency_ms_p50 == nearest_rank(latencies, 50)
    assert window.latency_ms_p95 == nearest_rank(latencies, 95)


async def test_outcomes_buckets_rate_and_latency_percentiles(store: Store) -> None:
    hook = await webhook(store)
    rows = mixed_rows(seed=16, count=600)
    tests = [Row(timedelta(hours=h), DeliveryStatus.FAILED, 30_000.0, is_test=True) for h in range(1, 30)]
    await write(store, hook, rows + tests)
    await write(store, await webhook(store), mixed_rows(seed=17, count=100))  # another webhook's

    stats = await webhook_stats(store, WS, hook, now=NOW)

    assert (stats.webhook_id, stats.generated_at) == (hook, NOW)
    assert len(stats.last_24h.buckets) == 24 and len(stats.last_7d.buckets) == 7
    check_window(stats.last_24h, rows, DAY, HOUR)
    check_window(stats.last_7d, rows, 7 * DAY, DAY)
    assert stats.last_7d.buckets[-1].by_outcome == stats.last_24h.by_outcome  # the last day: the 24 hours


async def test_a_delivery_belongs_to_the_windows_its_creation_falls_in(store: Store) -> None:
    hook = await webhook(store)
    second = timedelta(seconds=1)
    await write(
        store,
        hook,
        [
            Row(timedelta(microseconds=1), DeliveryStatus.PENDING),  # the last hour
            Row(DAY, DeliveryStatus.DELIVERED, 10.0),  # the first hour of the 24, the last of the 7 days
            Row(DAY + second, DeliveryStatus.FAILED),  # the 7 days only: the day before the last
            Row(7 * DAY, DeliveryStatus.SKIPPED),  # the first of the 7 days
            Row(7 * DAY + second, DeliveryStatus.THROTTLED),  # neither
        ],
    )

    stats = await webhook_stats(store, WS, hook, now=NOW)

    hours, days = stats.last_24h.buckets, stats.last_7d.buckets
    assert [(n, b.total) for n, b in enumerate(hours) if b.total] == [(0, 1), (23, 1)]
    assert hours[0].by_outcome[DeliveryStatus.DELIVERED] == hours[23].by_outcome[DeliveryStatus.PENDING] == 1
    assert [(n, b.total) for n, b in enumerate(days) if b.total] == [(0, 1), (5, 1), (6, 2)]
    assert days[0].by_outcome[DeliveryStatus.SKIPPED] == days[5].by_outcome[DeliveryStatus.FAILED] == 1
    assert stats.last_7d.by_outcome[DeliveryStatus.THROTTLED] == 0
    assert (stats.last_24h.success_rate, stats.last_7d.success_rate) == (1.0, 0.5)
    assert stats.last_24h.latency_ms_p50 == stats.last_7d.latency_ms_p95 == 10.0


async def test_a_webhook_with_nothing_through_has_counts_but_no_rates(store: Store) -> None:
    empty, unsettled = await webhook(store), await webhook(store)
    await write(store, unsettled, [Row(HOUR, DeliveryStatus.PENDING), Row(2 * HOUR, DeliveryStatus.SKIPPED)])

    nothing = await webhook_stats(store, WS, empty, now=NOW)
    waiting = await webhook_stats(store, WS, unsettled, now=NOW)

    for window in (nothing.last_24h, nothing.last_7d):
        assert window.total == 0 and window.by_outcome == dict.fromkeys(DeliveryStatus, 0)
        assert all(b.by_outcome == dict.fromkeys(DeliveryStatus, 0) for b in window.buckets)
        assert (window.success_rate, window.latency_ms_p50, window.latency_ms_p95) == (None, None, None)
    for window in (waiting.last_24h, waiting.last_7d):
        assert window.total == 2 and window.by_outcome[DeliveryStatus.PENDING] == 1
        assert (window.success_rate, window.latency_ms_p50, window.latency_ms_p95) == (None, None, None)


async def test_another_workspaces_or_an_unknown_webhook_is_not_found(store: Store) -> None:
    theirs = await webhook(store, "ws_globex")
    for webhook_id in (theirs, "wh_nothing"):
        with pytest.raises(NotFound) as raised:
            await webhook_stats(store, WS, webhook_id, now=NOW)
        assert raised.value.field == "webhook_id"


async def test_the_queries_find_the_rows_by_the_webhook_index(store: Store) -> None:
    """Among other webhooks' deliveries and older ones, as a busy store holds them (statistics taken)."""
    hooks = [f"wh_{n:02}" for n in range(12)]
    rows = mixed_rows(seed=18, count=500)
    for hook in hooks:
        await write(store, hook, [Row(r.age * 8, r.status, r.latency_ms) for r in rows])
    async with store.engine.begin() as conn:
        await conn.execute(text("ANALYZE"))
    edges = [NOW - DAY * n for n in range(7, -1, -1)]
    explain = "EXPLAIN QUERY PLAN " if store.engine.dialect.name == "sqlite" else "EXPLAIN "
    for query in (outcomes_query(hooks[0], edges), percentiles_query(hooks[0], edges[0], NOW, (0.5, 0.95))):
        sql = query.compile(store.engine.sync_engine, compile_kwargs={"literal_binds": True})
        async with store.engine.connect() as conn:
            plan = "\n".join(str(line) for line in (await conn.execute(text(explain + str(sql)))).all())
        assert "ix_deliveries_webhook" in plan, plan


# --- the faces: the API, the command line, the console --------------------------------------------


@pytest.fixture
async def acme(acme_http: httpx.AsyncClient) -> httpx.AsyncClient:
    """The app (API and console) over httpx, with a key of ws_acme, signed in to the console too."""
    await acme_http.post("/console/sign-in", data={"key": acme_http.headers["authorization"].split()[1]})
    return acme_http


RECENT = [
    Row(HOUR, DeliveryStatus.DELIVERED, 120.0),
    Row(2 * HOUR, DeliveryStatus.DELIVERED, 80.0),
    Row(3 * HOUR, DeliveryStatus.FAILED, 5000.0),
    Row(3 * DAY, DeliveryStatus.DELIVERED, 1500.0),
    Row(HOUR, DeliveryStatus.DELIVERED, 1.0, is_test=True),
]


@ONE_STORE
async def test_the_api_answers_the_stats_and_404_for_another_workspaces_webhook(
    acme: httpx.AsyncClient, store: Store
) -> None:
    hook = await webhook(store)
    await write(store, hook, RECENT, now=utcnow())

    answer = await acme.get(f"/workspaces/{WS}/webhooks/{hook}/stats")

    assert answer.status_code == 200, answer.text
    stats = WebhookStats.model_validate(answer.json())
    assert answer.json()["last_24h"]["by_outcome"] == {"pending": 0, "delivered": 2, "failed": 1, "skipped": 0,
                                                       "throttled": 0}  # fmt: skip
    assert (stats.last_24h.total, stats.last_7d.total) == (3, 4)
    assert stats.last_24h.success_rate == pytest.approx(2 / 3) and stats.last_7d.success_rate == 0.75
    assert (stats.last_24h.latency_ms_p50, stats.last_24h.latency_ms_p95) == (80.0, 120.0)
    assert (stats.last_7d.latency_ms_p50, stats.last_7d.latency_ms_p95) == (120.0, 1500.0)
    assert [len(stats.last_24h.buckets), len(stats.last_7d.buckets)] == [24, 7]
    theirs = await webhook(store, "ws_globex")
    for path in (f"/workspaces/{WS}/webhooks/{theirs}/stats", f"/workspaces/{WS}/webhooks/wh_nothing/stats"):
        missing = await acme.get(path)
        assert missing.status_code == 404 and missing.json()["error"]["field"] == "webhook_id"
    assert (await acme.get(f"/workspaces/ws_globex/webhooks/{theirs}/stats")).status_code == 403


@ONE_STORE
async def test_the_command_prints_a_table_and_json(settings: Settings, store: Store) -> None:
    hook = await webhook(store)
    await write(store, hook, RECENT, now=utcnow())
    env = {"WEBHOOKS_DATABASE_URL": settings.database_url}

    async def run(*args: str, expect: int = 0) -> tuple[str, str]:
        result = await asyncio.to_thread(CliRunner().invoke, cli, ["hook", "stats", *args], env=env)
        assert result.exit_code == expect, result.output
        return result.stdout, result.stderr

    out, _ = await run(hook)
    lines = out.splitlines()
    assert hook in lines[0] and "test sends not counted" in lines[0]
    assert lines[1].split() == ["WINDOW", "TOTAL", "PENDING", "DELIVERED", "FAILED", "SKIPPED", "THROTTLED",
                                "SUCCESS", "P50", "P95"]  # fmt: skip
    assert lines[2].split() == ["last", "24h", "3", "0", "2", "1", "0", "0", "66.7%", "80", "ms", "120", "ms"]
    assert lines[3].split() == ["last", "7d", "4", "0", "3", "1", "0", "0", "75.0%", "120", "ms", "1,500", "ms"]
    shown = json.loads((await run(hook, "--json"))[0])
    assert shown["last_7d"]["total"] == 4 and len(shown["last_24h"]["buckets"]) == 24
    _, err = await run("wh_nope", expect=2)
    assert err == "error: webhook_id: no webhook wh_nope\n"


def figure(page: str, window: str) -> str:
    found = re.search(rf'<figure class="health-chart" id="{window}".*?</figure>', page, re.DOTALL)
    assert found, page
    return found.group(0)


def number(figure_html: str, name: str) -> str:
    found = re.search(rf'<dd class="{name}">([^<]*)</dd>', figure_html)
    assert found, figure_html
    return found.group(1)


@ONE_STORE
async def test_the_webhook_page_charts_the_numbers(acme: httpx.AsyncClient, store: Store) -> None:
    hook = await webhook(store)
    await write(store, hook, RECENT, now=utcnow())

    page = (await acme.get(f"/console/w/{WS}/webhooks/{hook}")).text

    day, week = figure(page, "last-24h"), figure(page, "last-7d")
    expected = {
        day: {"total": "3", "delivered": "2", "failed": "1", "pending": "0", "success-rate": "66.7%",
              "p50": "80 ms", "p95": "120 ms"},
        week: {"total": "4", "delivered": "3", "failed": "1", "success-rate": "75.0%", "p50": "120 ms",
               "p95": "1,500 ms"},
    }  # fmt: skip
    for shown, numbers in expected.items():
        assert {name: number(shown, name) for name in numbers} == numbers
    assert day.count('<g class="bar">') == 24 and week.count('<g class="bar">') == 7
    assert 'aria-label="Last 24 hours, a bar per hour: 3 deliveries (2 delivered, 1 failed); at most 1' in day
    assert week.count('<rect class="delivered"') == 2 and week.count('<rect class="failed"') == 1
    assert re.search(r"<title>\w{3} \d+ \w{3} \d\d:\d\d to \w{3} \d+ \w{3} \d\d:\d\d UTC: 3 deliveries "
                     r"\(2 delivered, 1 failed\)</title>", week)  # fmt: skip
    empty = (await acme.get(f"/console/w/{WS}/webhooks/{await webhook(store)}")).text
    assert "No deliveries." in figure(empty, "last-24h") and "<svg" not in figure(empty, "last-7d")


@ONE_STORE
async def test_at_360_px_the_chart_fits_and_says_what_it_shows(
    browser: Browser,
    console: str,  # noqa: F811  (the fixture imported above)
    store: Store,
) -> None:
    hook = await webhook(store)
    await write(store, hook, mixed_rows(seed=19, count=300), now=utcnow())
    context = await browser.new_context(viewport={"width": 360, "height": 780}, is_mobile=True, has_touch=True)
    page = await context.new_page()
    await sign_in(page, console, store)

    await page.goto(f"{console}/w/{WS}/webhooks/{hook}")

    chart = page.get_by_role("img", name=re.compile(r"^Last 7 days, a bar per day: \d+ deliveries"))
    await expect(chart).to_be_visible()
    assert (await chart.bounding_box() or {"width": 0})["width"] > 200
    assert await page.evaluate("document.documentElement.scrollWidth") <= 360
    await context.close()
