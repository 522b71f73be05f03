"""Screenshots of what the Temporal UI shows of one event's deliveries, for the manual's "Inspecting
deliveries in the Temporal UI" (docs/temporal-ui.md): the first attempts as local activities, a failed
one's timer, the durable retry after it.

    .venv/bin/python docs/screenshots/temporal_ui.py

Starts everything it needs on free ports, in a temporary folder, and stops it all on the way out:
the dev server the project ships (`temporal server start-dev`, its UI included), a SQLite store, a
receiver, and a worker in this process. Three webhooks of workspace ws_acme get one event; the
receiver answers the first request of one of them with a 503, so that delivery waits on a timer
(the first delay of a 20 s schedule) and then goes on as the `deliver` activity, which gets a 200.
The pending shots are taken during that wait, the others once the workflow completed, the worker
still running (the User Metadata tab's current details are a query answered by a worker).
Chromium comes from /usr/bin/chromium. Writes docs/screenshots/temporal-ui/*.png in about 35 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, FloatRect, Locator, Page, async_playwright, expect
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle

from core.config import Settings
from core.temporal import register_search_attributes
from devstack.processes import TemporalServer, free_port
from devstack.receiver import Answer, Receiver
from models.samples import sample_event
from models.tables import WebhookCreate
from services.webhooks import create_webhook
from starter import publish
from store.migrate import upgrade
from store.queries import Store
from worker import build_worker

OUT = Path(__file__).resolve().parent / "temporal-ui"
CHROMIUM = "/usr/bin/chromium"
WORKSPACE = "ws_acme"
EVENT_ID = "evt_order_1042"
TASK_QUEUE = "webhooks-screenshots"
WEBHOOKS = {  # name: receiver path
    "Closed orders to Sheets": "/sheets",
    "Zendesk ticket": "/zendesk",
    "HubSpot lead": "/hubspot",
}
FAILING = "Zendesk ticket"
"""Its first attempt gets a 503, attempt 2 (20 s ± 20 % later) a 200."""
RETRY_SCHEDULE = (timedelta(seconds=20), timedelta(minutes=5))

NARROW = 1024
"""The viewport width of the timeline shots: room enough for the timer's label, and little more,
so that the text stays readable once the page scales the picture down."""
PAD = 12
"""Pixels of margin around what a shot takes."""
UI_TIMEOUT = 20_000
"""Milliseconds a page may take to show what a shot waits for."""
expect.set_options(timeout=UI_TIMEOUT)

# Kept in the browser's local storage by the UI: the navigation collapsed, more room for the rest.
UI_PREFERENCES = 'localStorage.setItem("navOpen", "false");'


async def main() -> None:
    began = time.monotonic()
    OUT.mkdir(parents=True, exist_ok=True)
    async with contextlib.AsyncExitStack() as stack:  # stops everything, last started first
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="temporal-ui-")))
        database_url = f"sqlite:///{folder / 'webhooks.db'}"
        upgrade(database_url)
        server = TemporalServer(folder, ui_port=free_port())
        server.start()
        stack.callback(server.stop)
        client = await server.connect()
        await register_search_attributes(client)
        store = Store.from_url(database_url)
        stack.push_async_callback(store.close)
        receiver = stack.enter_context(Receiver())
        for name, path in WEBHOOKS.items():
            await create_webhook(
                store,
                WORKSPACE,
                WebhookCreate(name=name, event_type="tag.applied", url=receiver.url(path)),
                allow_private=True,
            )
        receiver.script(WEBHOOKS[FAILING], [Answer(503)])
        settings = Settings(
            database_url=database_url, task_queue=TASK_QUEUE, allow_private_urls=True, retry_schedule=RETRY_SCHEDULE
        )
        worker = await stack.enter_async_context(build_worker(client, settings, store))
        await stack.enter_async_context(worker)  # runs until the stack closes

        playwright = await stack.enter_async_context(async_playwright())
        browser = await playwright.chromium.launch(executable_path=CHROMIUM)
        stack.push_async_callback(browser.close)
        ui = f"http://127.0.0.1:{server.ui_port}"
        await ui_ready(browser, ui)

        event = sample_event("tag.applied", event_id=EVENT_ID, workspace_id=WORKSPACE)
        handle = await publish(client, event, task_queue=TASK_QUEUE)
        await timer_started(handle)
        workflow = f"{ui}/namespaces/{client.namespace}/workflows/{handle.id}/{handle.result_run_id}"
        await asyncio.gather(shoot_retry_pending(browser, workflow), shoot_current_details(browser, workflow))
        taken = datetime.now().astimezone()
        fired = await timer_fired_at(handle)
        if fired is not None and fired <= taken:
            raise SystemExit("the retry came before the pending shots were taken; run again")

        await handle.result()
        await shoot_timeline(browser, workflow)
        await shoot_history(browser, workflow)
        await shoot_first_attempt(browser, workflow)
    for png in sorted(OUT.glob("*.png")):
        print(f"{png}: {png.stat().st_size // 1024} KB")
    print(f"done in {time.monotonic() - began:.0f} s")


async def ui_ready(browser: Browser, ui: str) -> None:
    """Wait until the UI answers: it starts beside the server's frontend, not necessarily before."""
    page = await browser.new_page()
    deadline = time.monotonic() + 30
    try:
        while True:
            try:
                await page.goto(ui, timeout=5_000)
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)
    finally:
        await page.close()


async def history_times(handle: WorkflowHandle[Any, Any], event_type: EventType.ValueType) -> list[datetime]:
    return [
        e.event_time.ToDatetime().astimezone()
        async for e in handle.fetch_history_events()
        if e.event_type == event_type
    ]


async def timer_started(handle: WorkflowHandle[Any, Any]) -> None:
    """Return once the failed first attempt's timer is in the history."""
    for _ in range(150):
        if await history_times(handle, EventType.EVENT_TYPE_TIMER_STARTED):
            return
        await asyncio.sleep(0.2)
    raise TimeoutError("no timer in the event's history after 30 s")


async def timer_fired_at(handle: WorkflowHandle[Any, Any]) -> datetime | None:
    return next(iter(await history_times(handle, EventType.EVENT_TYPE_TIMER_FIRED)), None)


@contextlib.asynccontextmanager
async def page_at(browser: Browser, url: str, width: int = NARROW, height: int = 1300) -> AsyncIterator[Page]:
    """A page of its own at `url`, tall enough that nothing a shot takes needs scrolling (the UI
    scrolls an inner pane, which a full-page screenshot does not unroll)."""
    context = await browser.new_context(viewport={"width": width, "height": height}, timezone_id="UTC", locale="en-US")
    try:
        await context.add_init_script(UI_PREFERENCES)
        page = await context.new_page()
        page.set_default_timeout(UI_TIMEOUT)
        await page.goto(url)
        yield page
    finally:
        await context.close()


async def ascending(page: Page) -> None:
    """Events in the order they happened (the UI shows the latest first)."""
    order = page.get_by_test_id("zoom-in")
    if "Descending" in await order.inner_text():
        await order.click()
    await expect(order).to_have_text(re.compile("Ascending"))


async def shot(
    page: Page,
    name: str,
    parts: Sequence[Locator],
    *,
    left: float | None = None,
    top: float | None = None,
    right: float | None = None,
    bottom: float | None = None,
) -> None:
    """Save the rectangle around `parts`, with a margin, or up to the edges given (exactly)."""
    boxes = [box for part in parts if (box := await part.bounding_box())]
    if not boxes:
        raise RuntimeError(f"{name}: nothing to take")
    viewport = page.viewport_size or {"width": 0, "height": 0}
    x0 = max(0.0, min(b["x"] for b in boxes) - PAD) if left is None else left
    y0 = max(0.0, min(b["y"] for b in boxes) - PAD) if top is None else top
    x1 = max(b["x"] + b["width"] for b in boxes) + PAD if right is None else right
    y1 = max(b["y"] + b["height"] for b in boxes) + PAD if bottom is None else bottom
    if x1 > viewport["width"] or y1 > viewport["height"]:
        raise RuntimeError(f"{name}: the window is too small for it ({x1:.0f} x {y1:.0f})")
    await page.screenshot(
        path=OUT / name,
        clip={"x": x0, "y": y0, "width": x1 - x0, "height": y1 - y0},
        animations="disabled",
        caret="hide",
    )


async def box(locator: Locator) -> FloatRect:
    found = await locator.bounding_box()
    if found is None:
        raise RuntimeError(f"{locator} is not shown")
    return found


async def text_extent(container: Locator) -> dict[str, float]:
    """Where the text inside `container` ends, right and bottom: the timeline's card and the
    history's table are larger than what they show."""
    extent: dict[str, float] = await container.evaluate(
        """box => {
            const rects = [...box.querySelectorAll("*")]
                .filter(e => e.children.length === 0 && e.textContent.trim())
                .map(e => e.getBoundingClientRect())
                .filter(r => r.height > 0);
            return {right: Math.max(...rects.map(r => r.right)), bottom: Math.max(...rects.map(r => r.bottom))};
        }"""
    )
    return extent


def timeline(page: Page) -> tuple[Locator, Locator]:
    """The timeline's heading bar (with its buttons) and its card."""
    bar = page.locator("h2", has_text="Timeline").locator("xpath=../..")
    return bar, bar.locator("xpath=following-sibling::div[1]")


async def shoot_retry_pending(browser: Browser, workflow: str) -> None:
    """The timeline while the retry waits, the timer clicked open: what attempt 1 came to, when
    attempt 2 comes."""
    async with page_at(browser, workflow, height=1800) as page:
        await expect(page.get_by_test_id("execution-status")).to_have_text(re.compile("running", re.I))
        await ascending(page)
        await page.get_by_text(f"attempt 1 to {FAILING}").first.click()
        await expect(page.get_by_text("Timer Started")).to_be_visible()
        bar, card = timeline(page)
        await shot(page, "retry-pending.png", [bar, card], bottom=(await text_extent(card))["bottom"] + PAD)


async def shoot_current_details(browser: Browser, workflow: str) -> None:
    """The User Metadata tab: the workflow's summary and its current details, which name the
    delivery retrying."""
    async with page_at(browser, f"{workflow}/user-metadata", width=1280, height=900) as page:
        # The summary and the details are markdown, each rendered in a frame of its own.
        details = page.locator("iframe").last
        await expect(details.content_frame.get_by_text(f"retrying: {FAILING}")).to_be_visible()
        await shot(page, "current-details.png", [page.get_by_test_id("back-to-workflows"), details])


async def shoot_timeline(browser: Browser, workflow: str) -> None:
    async with page_at(browser, workflow, height=1800) as page:
        await expect(page.get_by_test_id("execution-status")).to_have_text(re.compile("completed", re.I))
        await ascending(page)
        await expect(page.get_by_text("retry delivery to", exact=False)).to_be_visible()
        bar, card = timeline(page)
        await shot(page, "event-timeline.png", [bar, card], bottom=(await text_extent(card))["bottom"] + PAD)


async def compact_history(page: Page, wanted: str) -> Locator:
    """The Compact view of the Event History (one row per activity, local activity or timer), in
    the order of events, once the row with `wanted` shows."""
    await page.get_by_test_id("compact").click()
    await ascending(page)
    table = page.locator("table").filter(has_text="deliver_first")
    await expect(table.get_by_text(wanted, exact=False)).to_be_visible()
    return table


async def shoot_history(browser: Browser, workflow: str) -> None:
    """The Compact history from its Event Type column on (the event ids and timestamps left out),
    in a window wide enough for every row's details. The UI cuts each value at 576 px, so the
    timer's summary ends in "..." here; the timeline and the expanded row show it whole."""
    async with page_at(browser, f"{workflow}/history", width=1760, height=1100) as page:
        table = await compact_history(page, "retry delivery to")
        event_type = table.locator("th", has_text="Event Type")
        await shot(
            page,
            "event-history.png",
            [table],
            left=(await box(event_type))["x"],
            top=(await box(table))["y"],
            right=(await text_extent(table))["right"] + PAD,
        )


async def shoot_first_attempt(browser: Browser, workflow: str) -> None:
    """The local activities alone (the table then fits the window), the failed first attempt's row
    opened: its summary, and its marker's details with the marker's own data folded away, so that
    the decoded outcome shows."""
    async with page_at(browser, f"{workflow}/history?category=local-activity", width=1280, height=1600) as page:
        table = await compact_history(page, f"deliver to {FAILING}")
        row = table.get_by_test_id("event-summary-row").filter(has_text=f"deliver to {FAILING}")
        await row.get_by_label("Expand details").click()
        editor = table.get_by_test_id("event-summary-row-expanded").locator(".cm-editor")
        await expect(editor).to_be_visible()
        await editor.locator(".cm-foldGutter [title='Fold line']").nth(1).click()  # "data": the marker's own
        await expect(editor.get_by_text('"status_code"')).to_be_visible()
        table_box = await box(table)
        await shot(
            page,
            "first-attempt-expanded.png",
            [table],
            top=table_box["y"],
            bottom=table_box["y"] + table_box["height"],
        )


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
