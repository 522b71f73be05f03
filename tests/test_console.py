"""The web console in a real browser: Debian's Chromium driven by Playwright, against the API
served on 127.0.0.1 by uvicorn, with a real dev server, worker and receiver. The screenshots the
README shows are taken here (WEBHOOKS_SCREENSHOTS=docs/screenshots, `make screenshots`)."""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.async_api import Browser, Page, async_playwright, expect
from temporalio.client import Client

from api.app import create_app
from core.config import Settings
from core.errors import ServiceError
from devstack.processes import free_port
from devstack.receiver import Receiver
from models.events import parse_event
from models.samples import sample_event
from models.tables import WebhookCreate
from services.access import create_key
from services.events import accept_event
from services.webhooks import create_webhook, validated
from store.queries import Store

CHROMIUM = Path(os.environ.get("WEBHOOKS_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = os.environ.get("WEBHOOKS_SCREENSHOTS")

pytestmark = [
    pytest.mark.usefixtures("worker"),
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM} (apt install chromium)"),
]


@pytest.fixture
async def console(client: Client, settings: Settings, store: Store) -> AsyncIterator[str]:
    """`webhooks api` on a free port of 127.0.0.1; its console's address."""
    app = create_app(settings, store=store, temporal=client)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning"))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    yield f"http://127.0.0.1:{server.config.port}/console"
    server.should_exit = True
    await serving


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield browser
        await browser.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1280, "height": 860})
    await context.grant_permissions(["clipboard-read", "clipboard-write"])
    yield await context.new_page()
    await context.close()


async def sign_in(page: Page, console: str, store: Store, workspace: str = "ws_acme") -> None:
    key = (await create_key(store, workspace, "console")).key
    await page.goto(console + "/")
    await page.get_by_label("API key").fill(key)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(re.compile(f"/console/w/{workspace}$"))


async def shot(page: Page, name: str, tmp_path: Path, **options: Any) -> None:
    folder = Path(SCREENSHOTS) if SCREENSHOTS else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(folder / f"{name}.png"), **options)


async def send(client: Client, settings: Settings, store: Store, tag: str, workspace: str = "ws_acme") -> Any:
    """An event as the platform sends it, through the API's intake; its outcome."""
    event = sample_event("tag.applied", event_id=f"evt_{uuid.uuid4().hex[:10]}", workspace_id=workspace)
    event["data"]["tag"] = tag
    return await (await accept_event(store, client, settings.task_queue, parse_event(event))).result()


async def test_a_folder_a_tag_applied_webhook_made_in_the_form_and_its_delivery(
    page: Page, console: str, client: Client, settings: Settings, store: Store, receiver: Receiver, tmp_path: Path
) -> None:
    await sign_in(page, console, store)
    await page.get_by_label("New folder").fill("CRM")
    await page.get_by_role("button", name="Create", exact=True).click()
    await expect(page.get_by_role("status")).to_have_text("Folder 'CRM' created.")
    await expect(page.get_by_role("heading", level=1)).to_have_text("CRM")

    await page.get_by_role("link", name="+ Create Webhook").click()
    await page.get_by_label("Name", exact=True).fill("Order closed to the CRM")
    await expect(page.get_by_label("Folder")).to_have_value(re.compile("^fld_"))
    await page.get_by_label("When this happens").select_option(label="Tag Applied")
    await page.get_by_role("textbox", name="Tag", exact=True).fill("Order Closed")
    await page.get_by_label("URL", exact=True).fill(receiver.url("/crm"))
    await shot(page, "create-webhook", tmp_path, full_page=True)
    await page.get_by_role("button", name="Save").click()

    await expect(page.get_by_role("heading", level=1)).to_have_text("Order closed to the CRM")
    await expect(page.locator(".facts")).to_contain_text("Tag Applied: Order Closed")
    await expect(page.locator(".facts")).to_contain_text("CRM")

    delivered = await send(client, settings, store, "Order Closed")
    ignored = await send(client, settings, store, "Newsletter")
    assert (delivered.delivered, ignored.matched) == (1, 0)
    assert len(receiver.at("/crm")) == 1

    await page.reload()
    row = page.locator("table.deliveries tbody tr")
    await expect(row).to_have_count(1)
    await expect(row.locator(".status")).to_have_text("delivered")
    await expect(row).to_contain_text("HTTP 200")
    await expect(row.get_by_role("link", name="Temporal UI")).to_have_attribute(
        "href", re.compile("/workflows/event-ws_acme-")
    )
    await shot(page, "webhook", tmp_path, full_page=True)

    await page.get_by_role("link", name="← CRM").click()
    listed = page.locator("li.webhook")
    await expect(listed).to_have_count(1)
    await expect(listed).to_contain_text("Tag Applied: Order Closed")
    await expect(listed).to_contain_text("127.0.0.1")
    await expect(listed.locator(".last")).to_contain_text("last: delivered (200)")
    await shot(page, "webhooks", tmp_path, full_page=True)


async def test_a_webhook_toggled_off_by_keyboard_gets_no_more_events(
    page: Page, console: str, client: Client, settings: Settings, store: Store, receiver: Receiver, tmp_path: Path
) -> None:
    create = WebhookCreate(name="Helpdesk", event_type="tag.applied", url=receiver.url("/helpdesk"))
    hook = await create_webhook(store, "ws_acme", create, allow_private=True)
    await sign_in(page, console, store)

    toggle = page.get_by_role("switch", name="Helpdesk: on")
    await toggle.focus()
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("status")).to_have_text("Webhook 'Helpdesk' turned off.")
    await expect(page.get_by_role("switch", name="Helpdesk: off")).to_have_attribute("aria-checked", "false")

    outcome = await send(client, settings, store, "VIP")
    assert outcome.matched == 0 and receiver.at("/helpdesk") == []
    assert not (await store.get_webhook(hook.id)).enabled


async def test_an_invalid_url_shows_the_apis_message_next_to_the_field(
    page: Page, console: str, store: Store, tmp_path: Path
) -> None:
    with pytest.raises(ServiceError) as refused:
        validated(WebhookCreate, {"name": "CRM", "event_type": "tag.applied", "url": "ftp://crm.example.com/in"})
    await sign_in(page, console, store)
    await page.get_by_role("link", name="+ Create Webhook").click()
    await page.get_by_label("Name", exact=True).fill("CRM")
    await page.get_by_label("URL", exact=True).fill("ftp://crm.example.com/in")
    await page.get_by_role("button", name="Save").click()

    url = page.get_by_label("URL", exact=True)
    await expect(url).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#url-error")).to_have_text(refused.value.message)
    await expect(url).to_have_value("ftp://crm.example.com/in")  # what was typed stays
    await expect(page.get_by_label("Name", exact=True)).to_have_value("CRM")
    assert await store.list_webhooks("ws_acme") == []
    await shot(page, "invalid-url", tmp_path)


async def test_a_key_of_another_workspace_sees_none_of_it(
    page: Page, console: str, store: Store, receiver: Receiver
) -> None:
    create = WebhookCreate(name="Acme CRM", event_type="tag.applied", url=receiver.url("/acme"))
    hook = await create_webhook(store, "ws_acme", create, allow_private=True)
    await sign_in(page, console, store, workspace="ws_globex")
    await expect(page.locator("li.webhook")).to_have_count(0)
    await expect(page.locator("main")).not_to_contain_text("Acme CRM")

    for path in ("/w/ws_acme", f"/w/ws_acme/webhooks/{hook.id}", f"/w/ws_acme/webhooks/{hook.id}/edit"):
        answer = await page.goto(console + path)
        assert answer is not None and answer.status == 403
        await expect(page.locator(".error")).to_contain_text("another workspace")
        await expect(page.locator("main")).not_to_contain_text("Acme CRM")
    answer = await page.goto(f"{console}/w/ws_globex/webhooks/{hook.id}")
    assert answer is not None and answer.status == 404
    # A form posted at the other workspace changes nothing.
    await page.goto(console + "/w/ws_globex")
    status = await page.evaluate(
        """async (url) => (await fetch(url, {method: "POST", body: new URLSearchParams({enabled: "false"})})).status""",
        f"{console}/w/ws_acme/webhooks/{hook.id}/toggle",
    )
    assert status == 403 and (await store.get_webhook(hook.id)).enabled
