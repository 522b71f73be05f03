"""Every console page at phone width (360 and 390 px): nothing scrolls sideways and nothing sticks
out, with the longest strings the pages may hold (ids, URLs, names in other alphabets, errors). The
pages are the console's GET routes: one added without a visit here fails the test."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from playwright.async_api import Browser, Page, expect
from starlette.datastructures import State
from test_console import console, hold_back, in_ledger, shot, sign_in  # noqa: F401  (console: a fixture)

from console.app import create_console
from core.templates import BodyFormat
from devstack.receiver import Receiver
from models.presets import ZENDESK_TEMPLATE
from models.tables import BasicAuth, DeliveryStatus, FolderCreate, WebhookCreate
from services.webhooks import create_folder, create_webhook, delete_webhook
from store.queries import Store

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

WIDTHS = (360, 390)
WORKSPACE = "ws_" + "acme" * 12
"""Long and unbroken, as the header shows it."""
LONG_NAME = "Уведомлениеклиентовобизменениистатусазаказавинтернетмагазине"
LONG_FOLDER = "Ärzteverbandsgeschäftsstellenbenachrichtigungsdienstleistungen"
LONG_URL = "https://hooks.example.com/" + "incoming" * 20 + "?token=" + "0123456789abcdef" * 6
LONG_ERROR = "connection refused by 10.0.0.1:8443 " + "x" * 240
FRAGMENTS = {"/w/{workspace_id}/webhooks/{webhook_id}/deliveries-fragment"}
"""Routes that answer a part of a page, seen inside the page that holds it."""

STICKING_OUT = """(width) => {
  // Every element whose right edge passes the phone's width, unless an ancestor clips it (the
  // visually hidden): one inside a box that scrolls sideways sticks out too. (A phone zooms out to
  // show a page wider than itself, so its window grows with the page: the width is the phone's.)
  for (const details of document.querySelectorAll("details")) details.open = true;
  const clipped = (element) => {
    for (let up = element.parentElement; up; up = up.parentElement) {
      const overflow = getComputedStyle(up).overflowX;
      if (overflow === "hidden" || overflow === "clip") return true;
    }
    return false;
  };
  const out = [];
  for (const element of document.body.querySelectorAll("*")) {
    const box = element.getBoundingClientRect();
    if (box.width && box.right > width + 0.5 && !clipped(element)) {
      out.push(`${element.tagName.toLowerCase()}.${element.className} (${Math.round(box.right)} px): `
        + element.textContent.trim().slice(0, 60));
    }
  }
  return {scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth, out};
}"""


def console_pages() -> set[str]:
    """The console's pages: its GET routes, as path templates."""
    routes = create_console(State()).routes
    return {r.path for r in routes if isinstance(r, APIRoute) and "GET" in (r.methods or ())} - FRAGMENTS


async def fits(page: Page, width: int, what: str) -> None:
    measured = await page.evaluate(STICKING_OUT, width)
    assert not measured["out"], f"{what} at {width} px, these stick out:\n" + "\n".join(measured["out"])
    assert measured["scrollWidth"] <= measured["innerWidth"] == width, f"{what} scrolls sideways: {measured}"


async def test_every_page_fits_a_phone(
    browser: Browser,
    console: str,  # noqa: F811  (the fixture imported above)
    store: Store,
    receiver: Receiver,
) -> None:
    folder = await create_folder(store, WORKSPACE, FolderCreate(name=LONG_FOLDER))
    paced = await create_webhook(
        store, WORKSPACE,
        WebhookCreate(
            name=LONG_NAME, event_type="tag.applied", url=LONG_URL, filter={"tag": LONG_FOLDER}, folder_id=folder.id,
            headers={"X-" + "Long" * 10: "v" * 120}, max_per_second=0.25, burst=12, max_in_flight=250, ordered=True,
        ),
        allow_private=True,
    )  # fmt: skip
    off = await create_webhook(
        store, WORKSPACE, WebhookCreate(name="Off", event_type="tag.applied", url=receiver.url("/off"), enabled=False),
        allow_private=True,
    )  # fmt: skip
    zendesk = await create_webhook(
        store, WORKSPACE,
        WebhookCreate(
            name="Zendesk", event_type="conversation.transferred", url="https://acme.zendesk.com/api/v2/tickets.json",
            body_format=BodyFormat.JSON, body_template=ZENDESK_TEMPLATE, preset="zendesk",
            auth=BasicAuth(username="agent" * 12 + "@acme.example/token", password="t0ken" * 20),
        ),
        allow_private=True,
    )  # fmt: skip
    await hold_back(store, paced, ["behind msg_" + "0" * 40 + " (event evt_" + "1" * 40 + ") of the same contact"])
    for hook in (paced, zendesk, off):
        await in_ledger(
            store, hook, DeliveryStatus.FAILED, attempts=9, last_status_code=503, last_error=LONG_ERROR,
            response_excerpt="<html>" + "m" * 600, contact_id="c_" + "9" * 60,
        )  # fmt: skip
    gone = await create_webhook(
        store, WORKSPACE, WebhookCreate(name="Gone", event_type="tag.applied", url=LONG_URL), allow_private=True
    )
    await in_ledger(store, gone, DeliveryStatus.FAILED, attempts=1, last_error=LONG_ERROR)
    await delete_webhook(store, WORKSPACE, gone.id)  # its failed delivery stays, listed by its id
    here = f"/w/{WORKSPACE}"
    # (route, path, what to do there first): every page, in the states that show the most.
    visits: list[tuple[str, str, Callable[[Page], Awaitable[None]] | None]] = [
        ("/w/{workspace_id}", here, None),
        ("/w/{workspace_id}", f"{here}?folder={folder.id}", None),
        ("/w/{workspace_id}", f"{here}?folder={folder.id}", create_folder_again),
        ("/w/{workspace_id}/webhooks/new", f"{here}/webhooks/new", None),
        ("/w/{workspace_id}/webhooks/new", f"{here}/webhooks/new", save_it_blank),
        ("/w/{workspace_id}/webhooks/new", f"{here}/webhooks/new?preset=zendesk", save_it_blank),
        ("/w/{workspace_id}/webhooks/new", f"{here}/webhooks/new?preset=google_sheets", None),
        ("/w/{workspace_id}/webhooks/{webhook_id}", f"{here}/webhooks/{paced.id}", None),
        ("/w/{workspace_id}/webhooks/{webhook_id}", f"{here}/webhooks/{zendesk.id}", None),
        ("/w/{workspace_id}/webhooks/{webhook_id}", f"{here}/webhooks/{off.id}", None),
        ("/w/{workspace_id}/webhooks/{webhook_id}/edit", f"{here}/webhooks/{paced.id}/edit", None),
        ("/w/{workspace_id}/webhooks/{webhook_id}/edit", f"{here}/webhooks/{zendesk.id}/edit", save_it_blank),
        ("/w/{workspace_id}/webhooks/{webhook_id}/credentials", f"{here}/webhooks/{zendesk.id}/credentials", None),
        ("/w/{workspace_id}/deliveries/failed", f"{here}/deliveries/failed", the_deleted_one_by_its_id),
        ("/w/{workspace_id}/webhooks/{webhook_id}", f"{here}/webhooks/wh_{'0' * 60}", None),  # the 404 page
        ("/w/{workspace_id}", "/w/ws_globex", None),  # the 403 page
    ]
    assert {route for route, _, _ in visits} | {"/"} == console_pages(), "a console page this test does not visit"

    # One phone, turned between the widths on each page: the page and what was done there are the same.
    context = await browser.new_context(viewport={"width": WIDTHS[0], "height": 800}, is_mobile=True, has_touch=True)
    page = await context.new_page()

    async def fits_each_width(what: str) -> None:
        for width in WIDTHS:
            await page.set_viewport_size({"width": width, "height": 800})
            await fits(page, width, what)

    await page.goto(console + "/")
    await fits_each_width("the sign-in page")
    await page.get_by_label("API key").fill("wk_" + "not_a_key" * 12)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#key-error")).to_have_text("unknown or revoked API key")
    await fits_each_width("a refused sign-in")
    await sign_in(page, console, store, WORKSPACE)
    for _, path, then in visits:
        await page.goto(console + path)
        if then is not None:
            await then(page)
        await fits_each_width(path)
    await context.close()


async def create_folder_again(page: Page) -> None:
    """The folder forms refused: a name that is taken, under its input."""
    await page.get_by_label("New folder").fill(LONG_FOLDER)
    await page.get_by_role("button", name="Create", exact=True).click()
    await expect(page.locator("#new-folder-error")).to_contain_text("already exists")


async def the_deleted_one_by_its_id(page: Page) -> None:
    await expect(page.locator(".webhook-name").filter(has_text="(deleted)")).to_have_count(1)


async def save_it_blank(page: Page) -> None:
    """The webhook form refused, its messages under the fields."""
    await page.get_by_label("Name", exact=True).fill("")
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator("#name-error")).to_be_visible()


async def test_phone_screenshots(
    browser: Browser,
    console: str,  # noqa: F811  (the fixture imported above)
    store: Store,
    tmp_path: Path,
) -> None:
    """The Webhooks page and the failed deliveries at 390 px, for the docs."""
    hook = await create_webhook(
        store, "ws_acme", WebhookCreate(name="Orders to the CRM", event_type="tag.applied", url=LONG_URL),
        allow_private=True,
    )  # fmt: skip
    await in_ledger(store, hook, DeliveryStatus.FAILED, attempts=9, last_status_code=503, last_error="HTTP 503")
    context = await browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = await context.new_page()
    await sign_in(page, console, store)
    await expect(page.get_by_role("link", name=re.compile("1 failed delivery"))).to_be_visible()
    await shot(page, "webhooks-phone", tmp_path, full_page=True)
    await page.goto(f"{console}/w/ws_acme/deliveries/failed")
    await shot(page, "failed-deliveries-phone", tmp_path, full_page=True)
    await context.close()
