"""The web console in a real browser: Debian's Chromium driven by Playwright, against the API
served on 127.0.0.1 by uvicorn, with a real dev server, worker and receiver. The screenshots the
manual shows are taken here (WEBHOOKS_SCREENSHOTS=docs/screenshots, `make screenshots`)."""

from __future__ import annotations

import asyncio
import base64
import os
import re
import threading
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from playwright.async_api import Browser, Locator, Page, expect
from temporalio.client import Client, WorkflowFailureError

from api.app import create_app
from core.config import Settings
from core.errors import ServiceError
from devstack.processes import free_port
from devstack.receiver import Answer, Received, Receiver
from devstack.services import ServiceEmulator, stand_in_url
from models.events import parse_event
from models.presets import PRESETS, ZENDESK_TEMPLATE
from models.samples import sample_event
from models.tables import BasicAuth, BearerAuth, Delivery, DeliveryStatus, Webhook, WebhookCreate, utcnow
from services.access import create_key
from services.events import accept_event
from services.webhooks import create_webhook, validated
from store.queries import Store

SCREENSHOTS = os.environ.get("WEBHOOKS_SCREENSHOTS")

pytestmark = [
    pytest.mark.usefixtures("worker"),
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
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
def settings(settings: Settings) -> Settings:
    """A request may take 30 s: a receiver held open by a test answers when the test lets it go."""
    return settings.model_copy(update={"request_timeout": timedelta(seconds=30)})


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


async def until(condition: Callable[[], bool], seconds: float = 15) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "not within the time allowed"
        await asyncio.sleep(0.05)


async def reload_until(page: Page, locator: Locator, text: str, seconds: float = 15) -> None:
    """Reload until the locator shows the text: the pages show the ledger as it was when asked (a
    webhook's page follows only the deliveries still in flight)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while await locator.inner_text() != text and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.2)
        await page.reload()
    await expect(locator).to_have_text(text)


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
    await page.get_by_label("Max per second").fill("10")  # a small CRM's quota
    await page.get_by_label("Deliver each contact's events in order").check()
    await shot(page, "create-webhook", tmp_path, full_page=True)
    await page.get_by_role("button", name="Save").click()

    await expect(page.get_by_role("heading", level=1)).to_have_text("Order closed to the CRM")
    await expect(page.locator(".facts")).to_contain_text("Tag Applied: Order Closed")
    await expect(page.locator(".facts")).to_contain_text("CRM")
    hook = (await store.list_webhooks("ws_acme"))[0]
    assert (hook.max_per_second, hook.ordered) == (10, True)

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


async def in_ledger(store: Store, hook: Webhook, status: DeliveryStatus, **values: Any) -> Delivery:
    """A delivery to the webhook in this state, straight into the ledger (no workflow behind it)."""
    event = f"evt_{uuid.uuid4().hex[:10]}"
    row = Delivery(
        id=f"msg_{uuid.uuid4().hex[:20]}", workspace_id=hook.workspace_id, event_id=event, webhook_id=hook.id,
        event_type=hook.event_type, workflow_id=f"event-{hook.workspace_id}-{event}", status=status, **values,
    )  # fmt: skip
    async with store.session() as session:
        session.add(row)
        await session.commit()
    return row


async def hold_back(store: Store, hook: Webhook, reasons: list[str]) -> None:
    """Deliveries to the webhook held back (throttled) for these reasons."""
    for reason in reasons:
        until = utcnow() + timedelta(minutes=1)
        await in_ledger(store, hook, DeliveryStatus.THROTTLED, held_reason=reason, next_attempt_at=until)


async def test_pacing_set_in_the_form_shows_as_badges_and_a_held_delivery_says_why(
    page: Page, console: str, store: Store, receiver: Receiver
) -> None:
    await sign_in(page, console, store)
    await page.get_by_role("link", name="+ Create Webhook").click()
    await page.get_by_label("Name", exact=True).fill("Paced CRM")
    await page.get_by_label("URL", exact=True).fill(receiver.url("/crm"))
    on_failure = page.get_by_label("When one gives up")
    await expect(on_failure).to_be_hidden()  # for an ordered webhook only
    await page.get_by_label("Max per second").fill("20")
    await page.get_by_label("Burst").fill("0")
    await page.get_by_label("Max in flight").fill("3")
    await page.get_by_label("Deliver each contact's events in order").check()
    await on_failure.select_option("hold")
    await page.get_by_role("button", name="Save").click()

    await expect(page.locator("#burst-error")).to_have_text("Input should be greater than or equal to 1")
    await expect(page.get_by_label("Burst")).to_have_attribute("aria-invalid", "true")
    await expect(page.get_by_label("Max per second")).to_have_value("20")  # what was typed stays
    await expect(on_failure).to_have_value("hold")
    await page.get_by_label("Burst").fill("5")
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("status")).to_have_text("Webhook 'Paced CRM' created.")
    await expect(page.locator(".facts .pacing")).to_have_text(
        "at most 20 requests a second (up to 5 at once); at most 3 open at once"
    )
    [hook] = await store.list_webhooks("ws_acme")
    assert (hook.max_per_second, hook.burst, hook.max_in_flight, hook.ordered, hook.ordered_on_failure) == (
        20, 5, 3, True, "hold",
    )  # fmt: skip

    await hold_back(store, hook, ["over max_per_second 20, burst 5", "over max_per_second 20, burst 5"])
    await page.reload()
    await expect(page.locator(".facts .health .waiting")).to_have_text("2 waiting")
    held = page.locator("table.deliveries tbody tr").first
    await expect(held.locator(".status")).to_have_text("throttled")
    await expect(held.locator(".held")).to_have_text(
        re.compile(r"^held back until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC: over max_per_second 20, burst 5$")
    )
    await page.get_by_role("link", name="← All webhooks").click()
    item = page.locator("li.webhook")
    await expect(item.locator(".badge.pace")).to_have_text(["≤20/s, burst 5", "3 at once", "ordered"])
    await expect(item.locator(".badge.waiting")).to_have_text("2 waiting")


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

    # One the pipeline turned off itself says why; one a user turned off does not need to.
    gone = WebhookCreate(name="Old CRM", event_type="tag.applied", url=receiver.url("/old"))
    old = await create_webhook(store, "ws_acme", gone, allow_private=True)
    await store.set_enabled(old.id, False, reason="HTTP 410 Gone: the receiver asked to stop")
    await page.reload()
    rows = page.locator("li.webhook")
    await expect(rows.filter(has_text="Old CRM").locator(".health")).to_contain_text(
        "Off turned off automatically: HTTP 410 Gone: the receiver asked to stop"
    )
    await expect(rows.filter(has_text="Helpdesk").locator(".why")).to_have_count(0)


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
    await expect(page.locator("#url-error")).to_have_text(refused.value.message.removeprefix("url: "))
    await expect(url).to_have_value("ftp://crm.example.com/in")  # what was typed stays
    await expect(page.get_by_label("Name", exact=True)).to_have_value("CRM")
    assert await store.list_webhooks("ws_acme") == []
    await shot(page, "invalid-url", tmp_path)

    await url.fill("https://crm.example.com/in")
    await page.get_by_text("Extra headers (optional)").click()
    await page.get_by_label("One per line").fill("X-Api-Key s3cret")
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator("#headers-error")).to_have_text("line 1: write each header as Name: value")
    await page.get_by_label("One per line").fill("X-Api-Key: s3cret")
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("status")).to_have_text("Webhook 'CRM' created.")
    [hook] = await store.list_webhooks("ws_acme")
    assert (hook.url, hook.headers) == ("https://crm.example.com/in", {"X-Api-Key": "s3cret"})


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


async def test_a_failed_delivery_is_redelivered_and_the_secret_rotated_and_copied(
    page: Page, console: str, client: Client, settings: Settings, store: Store, receiver: Receiver, tmp_path: Path
) -> None:
    create = WebhookCreate(name="Sheets", event_type="tag.applied", url=receiver.url("/sheets"))
    hook = await create_webhook(store, "ws_acme", create, allow_private=True)
    receiver.script("/sheets", [Answer(503, body=b"maintenance")] * (1 + len(settings.retry_schedule)))
    with pytest.raises(WorkflowFailureError):
        await send(client, settings, store, "VIP")
    await sign_in(page, console, store)
    await expect(page.locator("li.webhook .last")).to_contain_text("last: failed (503)")
    await expect(page.locator("li.webhook .health")).to_contain_text("Failing no successful delivery since")
    await page.get_by_role("link", name="Sheets").click()

    failed = page.locator("table.deliveries tbody tr")
    await expect(failed.locator(".status")).to_have_text("failed")
    await expect(failed).to_contain_text("HTTP 503")
    await failed.get_by_text("excerpt").click()
    await expect(failed.locator("pre")).to_have_text("maintenance")
    await shot(page, "failed-delivery", tmp_path, full_page=True)
    await failed.get_by_role("button", name="Redeliver").click()  # the receiver answers 200 again
    await expect(page.get_by_role("status")).to_contain_text("Redelivery:")
    await until(lambda: len(receiver.at("/sheets")) == 2 + len(settings.retry_schedule))
    await reload_until(page, failed.locator(".status"), "delivered")

    await page.get_by_role("button", name="Send test event").click()
    await expect(page.get_by_role("status")).to_have_text("Test event delivered: the receiver answered HTTP 200: ok")
    await until(lambda: len(receiver.at("/sheets")) == 3 + len(settings.retry_schedule))
    assert receiver.at("/sheets")[-1].json()["data"]["test"] is True

    old = hook.secret
    page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await page.get_by_role("button", name="Rotate secret").click()
    await expect(page.get_by_role("status")).to_contain_text("New secret")
    await page.get_by_text("Show the secret").click()
    shown = (await page.locator("#secret-value").inner_text()).strip()
    assert shown == (await store.get_webhook(hook.id)).secret != old
    await expect(page.locator("#secret")).to_contain_text("The previous secret also signs until")
    await page.get_by_role("button", name="Copy").click()
    await expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert await page.evaluate("navigator.clipboard.readText()") == shown


async def test_folders_are_renamed_and_deleted_and_webhooks_moved_between_them(
    page: Page, console: str, store: Store, receiver: Receiver
) -> None:
    hook = await create_webhook(
        store,
        "ws_acme",
        WebhookCreate(name="Zapier", event_type="contact.created", url=receiver.url("/z")),
        allow_private=True,
    )
    await sign_in(page, console, store)
    for name in ("Sales", "Support"):
        await page.get_by_label("New folder").fill(name)
        await page.get_by_role("button", name="Create", exact=True).click()
    await page.get_by_label("New folder").fill("Sales")
    await page.get_by_role("button", name="Create", exact=True).click()
    # Under the input it names, in the service's words without the field's name; what was typed stays.
    await expect(page.locator("#new-folder-error")).to_have_text("a folder named 'Sales' already exists")
    await expect(page.get_by_label("New folder")).to_have_attribute("aria-invalid", "true")
    await expect(page.get_by_label("New folder")).to_have_value("Sales")

    await page.get_by_role("link", name="All webhooks").click()
    await page.get_by_label("Move Zapier to").select_option(label="Sales")
    await page.get_by_role("button", name="Move").click()
    await expect(page.get_by_role("status")).to_have_text("Webhook 'Zapier' moved to folder 'Sales'.")
    await expect(page.locator("li.webhook")).to_contain_text("in Sales")
    folders = page.get_by_role("navigation", name="Folders")
    await expect(folders.get_by_role("link", name=re.compile("^Sales"))).to_have_text(re.compile(r"Sales\s+1$"))
    await expect(folders.get_by_role("link", name=re.compile("^Support"))).to_have_text(re.compile(r"Support\s+0$"))

    await folders.get_by_role("link", name=re.compile("^Sales")).click()
    await page.get_by_text("Rename or delete this folder").click()
    await page.get_by_label("New name").fill("Support")
    await page.get_by_role("button", name="Rename").click()
    await expect(page.locator("#rename-error")).to_have_text("a folder named 'Support' already exists")
    await expect(page.get_by_label("New name")).to_have_value("Support")  # shown open, as typed
    await page.get_by_label("New name").fill("Sales EU")
    await page.get_by_role("button", name="Rename").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Sales EU")

    page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await page.get_by_text("Rename or delete this folder").click()
    await page.get_by_role("button", name="Delete folder").click()
    await expect(page.locator("#delete-error")).to_have_text(
        "it holds 1 webhook(s): move them out first, or tick “move its webhooks to the top level”"
    )
    await page.get_by_label("move its webhooks to the top level").check()
    await page.get_by_role("button", name="Delete folder").click()
    await expect(page.get_by_role("status")).to_have_text(
        "Folder 'Sales EU' deleted; 1 webhook(s) moved to the top level."
    )
    assert (await store.get_webhook(hook.id)).folder_id is None
    assert [f.name for f in await store.list_folders("ws_acme")] == ["Support"]


async def test_the_conditions_follow_the_trigger_and_an_edit_keeps_what_is_set(
    page: Page, console: str, store: Store, receiver: Receiver, tmp_path: Path
) -> None:
    await sign_in(page, console, store)
    await page.get_by_role("link", name="+ Create Webhook").click()
    await page.get_by_label("Name", exact=True).fill("Appointment reminder")
    await page.get_by_label("When this happens").select_option(label="DateTime Based Trigger")
    await expect(page.get_by_role("textbox", name="Tag")).to_have_count(0)
    await page.get_by_role("textbox", name="Custom field").fill("appointment_at")
    await page.get_by_label("URL", exact=True).fill(receiver.url("/reminders"))
    await page.get_by_role("button", name="Save").click()
    # The API's rule: a DateTime trigger needs an offset; the message sits by the conditions.
    await expect(page.locator("#filter-error")).to_contain_text("offset")
    await expect(page.get_by_role("textbox", name="Custom field")).to_have_value("appointment_at")
    await page.get_by_role("textbox", name="Offset").fill("-1d")
    await page.get_by_role("textbox", name="Time of day").fill("09:00")
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator(".facts")).to_contain_text("DateTime Based Trigger: appointment_at, -1d, at 09:00")

    await page.get_by_role("link", name="Edit").click()
    await expect(page.get_by_role("textbox", name="Offset")).to_have_value("-1d")
    await page.get_by_label("When this happens").select_option(label="Conversation Transferred")
    await page.get_by_label("Transferred to").select_option(label="to a human")
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("status")).to_have_text("Changes saved.")
    await expect(page.locator(".facts")).to_contain_text("Conversation Transferred: to human")
    [hook] = await store.list_webhooks("ws_acme")
    assert (hook.event_type, hook.filter) == ("conversation.transferred", {"to": "human"})


async def test_signing_in_and_forms_from_elsewhere(console: str, store: Store) -> None:
    key = (await create_key(store, "ws_acme", "console")).key
    async with httpx.AsyncClient(base_url=console, follow_redirects=False) as http:
        wrong = await http.post("/sign-in", data={"key": "wk_not_a_key"})
        assert wrong.status_code == 401 and "unknown or revoked API key" in wrong.text
        assert (await http.get("/w/ws_acme")).headers["location"] == "/console/"
        signed = await http.post("/sign-in", data={"key": key})
        assert signed.headers["location"] == "/console/w/ws_acme"
        cookie = signed.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "path=/console" in cookie
        elsewhere = await http.post(
            "/w/ws_acme/folders", data={"name": "x"}, headers={"origin": "https://evil.example"}
        )
        assert elsewhere.status_code == 403 and await store.list_folders("ws_acme") == []
        admin = (await create_key(store, None, "admin")).key
        unnamed = await http.post("/sign-in", data={"key": admin})
        assert unnamed.status_code == 422 and "name the one to open" in unnamed.text
        named = await http.post("/sign-in", data={"key": admin, "workspace": "ws_globex"})
        assert named.headers["location"] == "/console/w/ws_globex"


ZENDESK_TOKEN = "zd_T0ken_never_shown_9f3a"


async def test_a_zendesk_webhook_made_from_its_preset_shows_its_request_but_never_its_token(
    page: Page, console: str, store: Store, tmp_path: Path
) -> None:
    await sign_in(page, console, store)
    await page.get_by_role("link", name="+ Create Webhook").click()
    send_to = page.get_by_label("Send to")
    await expect(send_to).to_have_value("")
    await expect(page.get_by_label("URL", exact=True)).to_be_visible()
    await send_to.select_option(label="Zendesk: create a ticket")  # reloads the form with the preset

    await expect(page).to_have_url(re.compile(r"/webhooks/new\?preset=zendesk$"))
    guide = page.get_by_label("How to set up Zendesk: create a ticket")
    await expect(guide).to_contain_text("Admin Center > Apps and integrations > APIs")
    await expect(guide.get_by_role("link", name="Zendesk documentation")).to_have_attribute(
        "href", PRESETS["zendesk"].docs_url
    )
    await expect(page.get_by_label("URL", exact=True)).to_have_count(0)  # the preset's fields make it
    await expect(page.get_by_label("When this happens")).to_have_value("conversation.transferred")
    await expect(page.get_by_label("Body format")).to_have_value("json")
    await expect(page.get_by_label("Template", exact=True)).to_have_value(ZENDESK_TEMPLATE)
    await expect(page.get_by_label("Follow redirects")).not_to_be_checked()
    await expect(page.get_by_label("Authentication", exact=True)).to_have_value("basic")
    await expect(page.get_by_label("Token", exact=True)).to_be_hidden()
    await expect(page.locator("#auth-hint")).to_contain_text("agent@example.com/token")

    await page.get_by_label("Zendesk subdomain").fill("acme")
    await page.get_by_label("User name").fill("agent@acme.example/token")
    await page.get_by_label("Password", exact=True).fill(ZENDESK_TOKEN)
    await shot(page, "create-from-preset", tmp_path, full_page=True)

    # A subdomain that is not one is said under its own input; the rest stays as typed.
    await page.get_by_label("Zendesk subdomain").fill("acme.zendesk.com")
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator("#preset-subdomain-error")).to_contain_text("not a valid Zendesk subdomain")
    await expect(page.get_by_label("Zendesk subdomain")).to_have_attribute("aria-invalid", "true")
    await expect(page.get_by_label("User name")).to_have_value("agent@acme.example/token")
    await expect(page.get_by_label("Password", exact=True)).to_have_value("")
    assert ZENDESK_TOKEN not in await page.content()
    assert await store.list_webhooks("ws_acme") == []

    await page.get_by_label("Zendesk subdomain").fill("acme")
    await page.get_by_label("Password", exact=True).fill(ZENDESK_TOKEN)
    await page.get_by_role("button", name="Save").click()

    await expect(page.get_by_role("status")).to_have_text("Webhook 'Zendesk: create a ticket' created.")
    facts = page.locator(".facts")
    await expect(facts.locator(".preset")).to_have_text("Zendesk: create a ticket")
    await expect(facts.locator(".url")).to_have_text("https://acme.zendesk.com/api/v2/tickets.json")
    await expect(facts.locator(".auth")).to_have_text("Basic, set (show credentials)")
    await expect(facts.locator(".body-format")).to_have_text("JSON template")
    await expect(facts.locator(".redirects")).to_have_text("not followed")
    html = await page.content()
    basic = base64.b64encode(f"agent@acme.example/token:{ZENDESK_TOKEN}".encode()).decode()
    assert ZENDESK_TOKEN not in html and basic not in html and "agent@acme.example" not in html

    preview = page.locator("details.preview")
    await preview.get_by_text("Request preview").click()
    await expect(preview.locator(".request-line")).to_have_text("POST https://acme.zendesk.com/api/v2/tickets.json")
    await expect(preview).to_contain_text("Authorization: Basic ********")
    await expect(preview).to_contain_text("Content-Type: application/json")
    body = preview.locator("pre.body")
    await expect(body).to_contain_text('"subject": "Chat handed over to a human: Jane Doe"')
    await expect(body).to_contain_text('"external_id": "c_42"')

    [hook] = await store.list_webhooks("ws_acme")
    assert (hook.preset, hook.event_type, hook.body_format) == ("zendesk", "conversation.transferred", "json")
    assert hook.body_template == ZENDESK_TEMPLATE
    assert hook.receiver_auth == BasicAuth(username="agent@acme.example/token", password=ZENDESK_TOKEN)


async def test_a_template_with_an_unknown_filter_is_refused_under_it_and_kept_as_typed(
    page: Page, console: str, store: Store, receiver: Receiver
) -> None:
    await sign_in(page, console, store)
    await page.get_by_role("link", name="+ Create Webhook").click()
    template = page.get_by_label("Template", exact=True)
    await expect(template).to_be_hidden()  # the standard body has no template
    await page.get_by_label("Name", exact=True).fill("Leads")
    await page.get_by_label("URL", exact=True).fill(receiver.url("/leads"))
    await page.get_by_label("Body format").select_option(label="JSON template")
    typed = '{\n  "text": "New lead",\n  "who": "{{ contact.name | shout }}"\n}'
    await template.fill(typed)
    await page.get_by_label("Authentication", exact=True).select_option(label="Bearer")
    await page.get_by_label("Token", exact=True).fill("tok_typed_but_never_shown")
    await page.get_by_role("button", name="Save").click()

    error = page.locator("#body_template-error")
    await expect(error).to_contain_text("line 3")
    await expect(error).to_contain_text("unknown filter 'shout'")
    await expect(error).not_to_contain_text("body_template")
    await expect(template).to_have_value(typed)
    await expect(template).to_have_attribute("aria-invalid", "true")
    await expect(page.get_by_label("Body format")).to_have_value("json")
    await expect(page.get_by_label("Name", exact=True)).to_have_value("Leads")
    await expect(page.get_by_label("URL", exact=True)).to_have_value(receiver.url("/leads"))
    await expect(page.get_by_label("Authentication", exact=True)).to_have_value("bearer")
    await expect(page.get_by_label("Token", exact=True)).to_have_value("")  # typed again, never sent back
    assert "tok_typed_but_never_shown" not in await page.content()
    assert await store.list_webhooks("ws_acme") == []

    await template.fill(typed.replace("shout", "upper"))
    await page.get_by_label("Token", exact=True).fill("tok_typed_again")
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("status")).to_have_text("Webhook 'Leads' created.")
    await expect(page.locator(".facts .auth")).to_have_text("Bearer, set (show credentials)")
    [hook] = await store.list_webhooks("ws_acme")
    assert (hook.body_format, hook.preset, hook.receiver_auth) == ("json", None, BearerAuth(token="tok_typed_again"))


async def test_an_edit_keeps_credentials_left_empty_and_removes_them_when_asked(
    page: Page, console: str, store: Store, receiver: Receiver
) -> None:
    auth = BasicAuth(username="agent@acme.example/token", password="zd_s3cret")
    create = WebhookCreate(name="Helpdesk", event_type="tag.applied", url=receiver.url("/helpdesk"), auth=auth)
    hook = await create_webhook(store, "ws_acme", create, allow_private=True)
    await sign_in(page, console, store)
    edit = f"{console}/w/ws_acme/webhooks/{hook.id}/edit"
    await page.goto(edit)
    await expect(page.locator(".current-auth")).to_have_text("Current: Basic, set")
    await expect(page.get_by_label("Authentication", exact=True)).to_have_value("basic")
    await expect(page.locator("#auth-hint")).to_contain_text("Leave empty to keep the current credentials.")
    await expect(page.get_by_label("User name")).to_have_value("")
    html = await page.content()
    assert "zd_s3cret" not in html and "agent@acme.example" not in html

    await page.get_by_label("Name", exact=True).fill("Helpdesk EU")
    await page.get_by_label("Follow redirects").check()
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("status")).to_have_text("Changes saved.")
    await expect(page.locator(".facts .redirects")).to_contain_text("followed")
    saved = await store.get_webhook(hook.id)
    assert (saved.name, saved.follow_redirects, saved.receiver_auth) == ("Helpdesk EU", True, auth)

    # Not on the webhook's page; on a page of their own when asked for.
    assert "zd_s3cret" not in await page.content()
    await page.get_by_role("link", name="show credentials").click()
    await expect(page.locator("#auth-password")).to_have_text("zd_s3cret")
    await expect(page.locator("#auth-username")).to_have_text("agent@acme.example/token")
    await page.get_by_role("link", name="Back to the webhook").click()

    # A new password alone keeps the user name.
    await page.goto(edit)
    await page.get_by_label("Password", exact=True).fill("zd_n3w")
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("status")).to_have_text("Changes saved.")
    assert (await store.get_webhook(hook.id)).receiver_auth == BasicAuth(username=auth.username, password="zd_n3w")

    await page.goto(edit)
    await page.get_by_label("Remove credentials").check()
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("status")).to_have_text("Changes saved.")
    await expect(page.locator(".facts .auth")).to_have_text("None")
    assert (await store.get_webhook(hook.id)).receiver_auth is None
    await page.goto(edit)
    await expect(page.get_by_label("Remove credentials")).to_have_count(0)


async def test_the_deliveries_show_the_redirect_chain_and_the_hint_to_follow_redirects(
    page: Page, console: str, client: Client, settings: Settings, store: Store, receiver: Receiver
) -> None:
    receiver.services = ServiceEmulator()
    apps_script = stand_in_url(receiver.url("/"), "google_sheets")  # answers 302 to "another host"
    for name, follow in (("Sheet", True), ("Sheet, no redirects", False)):
        create = WebhookCreate(name=name, event_type="tag.applied", url=apps_script, follow_redirects=follow)
        await create_webhook(store, "ws_acme", create, allow_private=True)
    with pytest.raises(WorkflowFailureError):  # the one that does not follow fails
        await send(client, settings, store, "VIP")
    await sign_in(page, console, store)

    await page.get_by_role("link", name="Sheet", exact=True).click()
    row = page.locator("table.deliveries tbody tr")
    await expect(row.locator(".status")).to_have_text("delivered")
    await expect(row.locator(".chain")).to_have_text("302 127.0.0.1 → 200 localhost")
    await expect(page.locator(".facts .redirects")).to_have_text(
        "followed; signature, headers and credentials stay with 127.0.0.1"
    )

    await page.goto(console + "/w/ws_acme")
    await page.get_by_role("link", name="Sheet, no redirects").click()
    await expect(row.locator(".status")).to_have_text("failed")
    await expect(row.locator(".chain")).to_have_count(0)
    await expect(row.locator(".why")).to_contain_text("turn on follow_redirects")


async def test_each_message_under_the_field_it_names_and_only_the_message(
    page: Page, console: str, settings: Settings, store: Store, receiver: Receiver
) -> None:
    await sign_in(page, console, store)
    await page.get_by_role("link", name="+ Create Webhook").click()
    name, url = page.get_by_label("Name", exact=True), page.get_by_label("URL", exact=True)
    await name.fill(" ")
    await url.fill("crm.example.com/in")
    await page.get_by_label("Burst").fill("5")  # a burst without a rate: the model's own rule
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator("#name-error")).to_have_text("must not be empty")
    await expect(page.locator("#url-error")).to_have_text("URL must start with http:// or https://")
    await expect(page.locator("#burst-error")).to_have_text(re.compile("^only with max_per_second: set a rate"))
    for field in (name, url, page.get_by_label("Burst")):
        await expect(field).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("p.error[role=alert]")).to_have_count(0)  # nothing left for the top

    # The service's refusals too: a name that is taken (409), an address that is private.
    taken = WebhookCreate(name="CRM", event_type="tag.applied", url=receiver.url("/crm"))
    hook = await create_webhook(store, "ws_acme", taken, allow_private=True)
    settings.allow_private_urls = False
    await name.fill("CRM")
    await url.fill("https://crm.example.com/in")
    await page.get_by_label("Burst").fill("")
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator("#name-error")).to_have_text(
        "a webhook named 'CRM' already exists in the workspace's top level"
    )
    await expect(page.locator("#url-error")).to_have_count(0)
    await name.fill("CRM 2")
    await url.fill("http://127.0.0.1:9/in")
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator("#url-error")).to_contain_text("127.0.0.1")
    await expect(page.locator("#url-error")).not_to_contain_text("url:")
    await expect(page.locator("#name-error")).to_have_count(0)

    # The Edit form, the same.
    await page.goto(f"{console}/w/ws_acme/webhooks/{hook.id}/edit")
    await name.fill("")
    await url.fill("not a url")
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator("#name-error")).to_have_text(
        re.compile("^(must not be empty|String should have at least 1 character)$")
    )
    await expect(page.locator("#url-error")).to_have_text("URL must start with http:// or https://")
    assert (await store.get_webhook(hook.id)).name == "CRM"

    # Signing in: an admin key without a workspace is told so under Workspace.
    await page.context.clear_cookies()
    await page.goto(console + "/")
    await page.get_by_label("API key").fill((await create_key(store, None, "admin")).key)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#workspace-error")).to_have_text(
        "an admin key covers every workspace: name the one to open"
    )
    await expect(page.locator("#key-error")).to_have_count(0)


async def test_a_test_event_to_a_turned_off_webhook_says_it_is_not_sent_before_and_after(
    page: Page, console: str, acme_http: httpx.AsyncClient, store: Store, receiver: Receiver
) -> None:
    create = WebhookCreate(name="Helpdesk", event_type="tag.applied", url=receiver.url("/helpdesk"))
    hook = await create_webhook(store, "ws_acme", create, allow_private=True)
    await sign_in(page, console, store)
    await page.get_by_role("link", name="Helpdesk").click()
    send = page.get_by_role("button", name="Send test event")
    await expect(send).not_to_have_attribute("aria-describedby", re.compile("."))
    await page.get_by_role("switch", name="Helpdesk: on").click()

    await expect(send).to_have_accessible_description(
        "This webhook is off: a test event is not sent to it, only recorded below as skipped. Turn it on to send one."
    )
    await send.click()
    await expect(page.get_by_role("status")).to_have_text(
        "Test event not sent: the webhook is off, so its delivery was recorded as skipped. Turn it on to send one."
    )
    row = page.locator("table.deliveries tbody tr")
    await expect(row.locator(".status")).to_have_text("skipped")
    await expect(row.locator(".why")).to_have_text("webhook turned off (turned off by a user)")
    assert receiver.at("/helpdesk") == []

    # The API's test send says so at once, and what came of it once it waits for the answer.
    started = (await acme_http.post(f"/workspaces/ws_acme/webhooks/{hook.id}/test")).json()
    assert (
        started["note"]
        == "the webhook is off: the test event is not sent, only recorded as skipped; turn it on to send one"
    )
    answered = (await acme_http.post(f"/workspaces/ws_acme/webhooks/{hook.id}/test", params={"wait": "true"})).json()
    assert answered["answer"]["status"] == "skipped" and answered["note"] == started["note"]
    assert answered["answer"]["error"] == "webhook turned off (turned off by a user)"
    assert receiver.at("/helpdesk") == []


async def test_a_webhooks_page_follows_a_delivery_in_flight_without_a_reload(
    page: Page, console: str, store: Store, receiver: Receiver, tmp_path: Path
) -> None:
    answer = threading.Event()

    def held_until_let_go(received: Received) -> None:
        if received.path == "/slow":
            answer.wait(30)

    receiver.on_request = held_until_let_go
    create = WebhookCreate(name="Slow CRM", event_type="tag.applied", url=receiver.url("/slow"))
    hook = await create_webhook(store, "ws_acme", create, allow_private=True)
    fetched: list[str] = []
    page.on("request", lambda request: fetched.append(request.url) if "deliveries-fragment" in request.url else None)
    try:
        await sign_in(page, console, store)
        await page.goto(f"{console}/w/ws_acme/webhooks/{hook.id}")
        await page.get_by_role("button", name="Send test event").click()
        await expect(page.get_by_role("status")).to_contain_text("its delivery below shows the answer when it comes")
        row = page.locator("table.deliveries tbody tr")
        await expect(row.locator(".status")).to_have_text("pending")
        await page.evaluate("window.notReloaded = true")  # gone if the page is loaded again
        answer.set()
        await expect(row.locator(".status")).to_have_text("delivered", timeout=15_000)
        await expect(row).to_contain_text("HTTP 200")
        assert await page.evaluate("window.notReloaded") is True and fetched
    finally:
        answer.set()
    await expect(row).not_to_have_attribute("data-unfinished", "")
    so_far = len(fetched)
    await page.wait_for_timeout(2500)  # longer than the shortest wait between two fetches
    assert len(fetched) == so_far, "nothing in flight: no more fetching"


async def test_the_failed_deliveries_are_the_ledgers_undelivered_ones(
    page: Page, console: str, client: Client, settings: Settings, store: Store, receiver: Receiver, tmp_path: Path
) -> None:
    every_attempt = 1 + len(settings.retry_schedule)
    hooks = {}
    for name, tag in (("Sheets", "A"), ("CRM", "B")):
        create = WebhookCreate(name=name, event_type="tag.applied", url=receiver.url(f"/{tag}"), filter={"tag": tag})
        hooks[name] = await create_webhook(store, "ws_acme", create, allow_private=True)
        receiver.script(f"/{tag}", [Answer(503, body=b"maintenance")] * every_attempt)
        with pytest.raises(WorkflowFailureError):
            await send(client, settings, store, tag)
    await sign_in(page, console, store)
    await page.get_by_role("link", name="2 failed deliveries").click()

    await expect(page.get_by_role("heading", level=1)).to_have_text("Failed deliveries")
    rows = page.locator("table.deliveries tbody tr")
    await expect(rows.locator(".webhook-name")).to_have_text(["CRM", "Sheets"])  # newest first
    sheets = rows.filter(has_text="Sheets")
    await expect(sheets.locator(".status")).to_have_text("failed")
    await expect(sheets).to_contain_text("tag.applied")
    await expect(sheets).to_contain_text("HTTP 503")
    await expect(sheets.locator(".contact")).to_have_text(re.compile(r"^contact c_\w+$"))
    await expect(sheets.locator("td[data-label=Attempts]")).to_have_text(str(every_attempt))
    await expect(sheets.get_by_role("link", name="Temporal UI")).to_have_attribute(
        "href", re.compile("/workflows/event-ws_acme-")
    )
    await shot(page, "failed-deliveries", tmp_path, full_page=True)

    await sheets.get_by_role("button", name="Redeliver").click()  # the receiver answers 200 again
    await expect(page.get_by_role("status")).to_contain_text("Redelivery:")
    await expect(page).to_have_url(re.compile("/deliveries/failed$"))
    await until(lambda: len(receiver.at("/A")) == every_attempt + 1)
    await reload_until(page, rows.last.locator(".webhook-name"), "CRM")  # Sheets' is delivered since: gone
    await expect(rows.locator(".webhook-name")).to_have_text(["CRM"])
    [delivered] = await store.list_deliveries(hooks["Sheets"].id)
    assert delivered.status == DeliveryStatus.DELIVERED
    await page.get_by_role("link", name="← All webhooks").click()
    await expect(page.get_by_role("link", name="1 failed delivery")).to_be_visible()
