"""A webhook's pacing (rate limit, burst, concurrency cap, ordered delivery) as the API and the
console's form set, show, change and remove it; each refusal naming its field; and what is held
back (throttled) counted on the webhook and the Webhooks page, with each held delivery's reason.

The store's side of pacing is store-independent here (test_pacing_rules.py and the pipeline's tests
cover its behaviour): these run on SQLite alone."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from temporalio.client import Client

from api.app import create_app
from core.config import Settings
from models.tables import Delivery, DeliveryStatus, WebhookCreate, utcnow
from services.access import create_key
from services.webhooks import create_webhook
from store.queries import Store

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

WS = "ws_acme"
PACED = {"max_per_second": 20, "burst": 5, "max_in_flight": 3, "ordered": True, "ordered_on_failure": "hold"}
PACE_FIELDS = tuple(PACED)


async def held(store: Store, webhook_id: str, count: int, reason: str | None, **values: Any) -> list[Delivery]:
    """`count` deliveries to the webhook held back (throttled) with this reason, straight into the ledger."""
    rows = []
    for _ in range(count):
        event_id = f"evt_{uuid.uuid4().hex[:10]}"
        fields = {
            "id": f"msg_{uuid.uuid4().hex[:20]}", "workspace_id": WS, "event_id": event_id, "webhook_id": webhook_id,
            "event_type": "tag.applied", "workflow_id": f"event-{WS}-{event_id}", "status": DeliveryStatus.THROTTLED,
            "held_reason": reason, "next_attempt_at": utcnow() + timedelta(seconds=30),
        }  # fmt: skip
        rows.append(Delivery.model_validate(fields | values))
    async with store.session() as session:
        session.add_all(rows)
        await session.commit()
    return rows


def paced(body: dict[str, Any]) -> dict[str, Any]:
    return {name: body[name] for name in PACE_FIELDS}


def new_hook(name: str, **values: Any) -> dict[str, Any]:
    return {"name": name, "event_type": "tag.applied", "url": f"https://{name.lower()}.example/in"} | values


# --- the API ---------------------------------------------------------------------------------------


async def test_the_api_sets_shows_changes_and_removes_each_pacing_setting(acme_http: httpx.AsyncClient) -> None:
    base = f"/workspaces/{WS}/webhooks"
    body = new_hook("CRM") | PACED
    created = (await acme_http.post(base, json=body)).json()
    assert paced(created) == PACED
    shown = (await acme_http.get(f"{base}/{created['id']}")).json()
    assert paced(shown) == PACED and shown["waiting"] == 0

    async def patch(change: dict[str, Any], expect: int = 200) -> dict[str, Any]:
        response = await acme_http.patch(f"{base}/{created['id']}", json=change)
        assert response.status_code == expect, response.text
        answer: dict[str, Any] = response.json()
        return answer

    assert paced(await patch({"burst": 2, "max_per_second": 0.5})) == PACED | {"burst": 2, "max_per_second": 0.5}
    # A burst belongs to its rate: removing the rate removes it; a burst without a rate is refused.
    refused = (await patch({"max_per_second": None, "burst": 3}, expect=422))["error"]
    assert refused["field"] == "burst" and "only with max_per_second" in refused["message"]
    removed = await patch({"max_per_second": None})
    assert paced(removed) == PACED | {"max_per_second": None, "burst": None}
    removed = await patch({"max_in_flight": None, "ordered": False, "ordered_on_failure": "release"})
    assert paced(removed) == {
        "max_per_second": None, "burst": None, "max_in_flight": None, "ordered": False, "ordered_on_failure": "release",
    }  # fmt: skip
    assert paced((await acme_http.get(f"{base}/{created['id']}")).json()) == paced(removed)
    # Fields left out keep their value.
    assert paced(await patch({"max_in_flight": 7}))["max_in_flight"] == 7
    assert paced(await patch({"name": "CRM v2"}))["max_in_flight"] == 7


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"burst": 3}, "burst", "only with max_per_second"),
        ({"max_per_second": 0}, "max_per_second", "greater than or equal to 0.001"),
        ({"max_per_second": -1, "burst": 3}, "max_per_second", "greater than or equal to 0.001"),
        ({"max_per_second": 1000.5}, "max_per_second", "less than or equal to 1000"),
        ({"max_per_second": "fast"}, "max_per_second", "valid number"),
        ({"max_per_second": 5, "burst": 0}, "burst", "greater than or equal to 1"),
        ({"max_per_second": 5, "burst": 1.5}, "burst", "valid integer"),
        ({"max_in_flight": 0}, "max_in_flight", "greater than or equal to 1"),
        ({"max_in_flight": 1001}, "max_in_flight", "less than or equal to 1000"),
        ({"ordered": "sometimes"}, "ordered", "valid boolean"),
        ({"ordered_on_failure": "sometimes"}, "ordered_on_failure", "'release' or 'hold'"),
    ],
)
async def test_each_pacing_refusal_names_its_field(
    acme_http: httpx.AsyncClient, store: Store, body: dict[str, Any], field: str, message: str
) -> None:
    base = f"/workspaces/{WS}/webhooks"
    response = await acme_http.post(base, json=new_hook("Refused") | body)
    error = response.json()["error"]
    assert (response.status_code, error["field"]) == (422, field), response.text
    assert message in error["message"]
    assert await store.list_webhooks(WS) == []

    hook = (await acme_http.post(base, json=new_hook("Plain"))).json()
    response = await acme_http.patch(f"{base}/{hook['id']}", json=body)
    error = response.json()["error"]
    assert (response.status_code, error["field"]) == (422, field), response.text
    assert message in error["message"]
    stored = await store.get_webhook(hook["id"])
    assert (stored.max_per_second, stored.burst, stored.max_in_flight, stored.ordered) == (None, None, None, False)


async def test_waiting_counts_and_held_reasons_through_the_api(acme_http: httpx.AsyncClient, store: Store) -> None:
    base = f"/workspaces/{WS}/webhooks"
    busy = (await acme_http.post(base, json=new_hook("Busy", max_per_second=2))).json()
    quiet = (await acme_http.post(base, json=new_hook("Quiet"))).json()
    holds = await held(store, busy["id"], 3, "over max_per_second 2")
    await held(store, busy["id"], 1, None, status=DeliveryStatus.DELIVERED, next_attempt_at=None)

    assert (await acme_http.get(f"{base}/{busy['id']}")).json()["waiting"] == 3
    assert (await acme_http.get(f"{base}/{quiet['id']}")).json()["waiting"] == 0
    listed = (await acme_http.get(base)).json()["items"]
    assert {h["name"]: h["waiting"] for h in listed} == {"Busy": 3, "Quiet": 0}

    page = (await acme_http.get(f"{base}/{busy['id']}/deliveries", params={"status": "throttled"})).json()
    assert sorted(d["id"] for d in page["items"]) == sorted(h.id for h in holds)
    assert {(d["status"], d["held_reason"]) for d in page["items"]} == {("throttled", "over max_per_second 2")}
    assert all(d["next_attempt_at"] and d["attempts"] == 0 for d in page["items"])
    [done] = (await acme_http.get(f"{base}/{busy['id']}/deliveries", params={"status": "delivered"})).json()["items"]
    assert done["held_reason"] is None
    one = (await acme_http.get(f"/workspaces/{WS}/deliveries/{holds[0].id}")).json()
    assert one["held_reason"] == "over max_per_second 2"
    response = await acme_http.get(f"{base}/{busy['id']}/deliveries", params={"status": "slowed"})
    assert response.status_code == 422 and response.json()["error"]["field"] == "status"


# --- the console's form (plain form posts, as a browser without script sends them) ----------------------


@pytest.fixture
async def console(client: Client, settings: Settings, store: Store) -> AsyncIterator[httpx.AsyncClient]:
    """The console over httpx, signed in to ws_acme."""
    app = create_app(settings, store=store, temporal=client)
    key = (await create_key(store, WS, "console")).key
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://console.test/console") as http:
            assert (await http.post("/sign-in", data={"key": key})).status_code == 303
            yield http


FORM = {"name": "CRM", "folder_id": "", "event_type": "tag.applied", "url": "https://crm.example/in",
        "body_format": "standard", "auth_type": "none"}  # fmt: skip


def error_under(page: str, name: str) -> str | None:
    """The message the form shows under the field `name`, if any."""
    found = re.search(rf'<p class="error" id="{re.escape(name)}-error">(.*?)</p>', page, re.DOTALL)
    return None if found is None else html.unescape(found.group(1))


def item_of(page: str, webhook_id: str) -> str:
    """The Webhooks page's item of one webhook."""
    found = re.search(rf'data-webhook="{webhook_id}">(.*?)</li>', page, re.DOTALL)
    assert found is not None, webhook_id
    return found.group(1)


def input_value(page: str, name: str) -> str:
    found = re.search(rf'<input id="{name}" name="{name}" value="([^"]*)"', page)
    assert found is not None, name
    return html.unescape(found.group(1))


async def test_the_form_sets_shows_changes_and_removes_pacing(console: httpx.AsyncClient, store: Store) -> None:
    posted = FORM | {"max_per_second": "20", "burst": "5", "max_in_flight": "3", "ordered": "true",
                     "ordered_on_failure": "hold"}  # fmt: skip
    answer = await console.post(f"/w/{WS}/webhooks", data=posted)
    assert answer.status_code == 303, answer.text
    [hook] = await store.list_webhooks(WS)
    assert (hook.max_per_second, hook.burst, hook.max_in_flight, hook.ordered, hook.ordered_on_failure) == (
        20, 5, 3, True, "hold",
    )  # fmt: skip

    shown = (await console.get(f"/w/{WS}/webhooks/{hook.id}")).text
    assert "at most 20 requests a second (up to 5 at once); at most 3 open at once" in html.unescape(shown)
    assert "the contact&#39;s next events wait until it is redelivered" in shown

    edit = (await console.get(f"/w/{WS}/webhooks/{hook.id}/edit")).text
    assert [input_value(edit, n) for n in ("max_per_second", "burst", "max_in_flight")] == ["20", "5", "3"]
    assert re.search(r'name="ordered" value="true"[^>]*checked', edit)
    assert '<option value="hold" selected>' in edit

    changed = FORM | {"max_per_second": "0.5", "burst": "", "max_in_flight": "3", "ordered": "true",
                      "ordered_on_failure": "release"}  # fmt: skip
    assert (await console.post(f"/w/{WS}/webhooks/{hook.id}", data=changed)).status_code == 303
    hook = await store.get_webhook(hook.id)
    assert (hook.max_per_second, hook.burst, hook.max_in_flight, hook.ordered_on_failure) == (0.5, None, 3, "release")
    edit = (await console.get(f"/w/{WS}/webhooks/{hook.id}/edit")).text
    assert input_value(edit, "max_per_second") == "0.5" and input_value(edit, "burst") == ""

    # Empty boxes and the box unticked: no limit, as they come.
    assert (await console.post(f"/w/{WS}/webhooks/{hook.id}", data=FORM)).status_code == 303
    hook = await store.get_webhook(hook.id)
    assert (hook.max_per_second, hook.burst, hook.max_in_flight, hook.ordered) == (None, None, None, False)
    shown = html.unescape((await console.get(f"/w/{WS}/webhooks/{hook.id}")).text)
    assert '<dd class="pacing">no limit</dd>' in shown and '<dd class="order">as they come</dd>' in shown


@pytest.mark.parametrize(
    ("typed", "field", "message"),
    [
        ({"max_per_second": "0"}, "max_per_second", "greater than or equal to 0.001"),
        ({"max_per_second": "fast", "burst": "3"}, "max_per_second", "enter a number, such as 20 or 0.5"),
        ({"max_per_second": "nan"}, "max_per_second", "enter a number"),
        ({"max_per_second": "5000"}, "max_per_second", "less than or equal to 1000"),
        ({"burst": "3"}, "burst", "only with max_per_second"),
        ({"max_per_second": "5", "burst": "2.5"}, "burst", "enter a whole number"),
        ({"max_in_flight": "0"}, "max_in_flight", "greater than or equal to 1"),
        ({"max_in_flight": "three"}, "max_in_flight", "enter a whole number"),
        ({"ordered": "true", "ordered_on_failure": "sometimes"}, "ordered_on_failure", "'release' or 'hold'"),
    ],
)
async def test_a_refused_limit_is_said_under_its_own_input_and_kept_as_typed(
    console: httpx.AsyncClient, store: Store, typed: dict[str, str], field: str, message: str
) -> None:
    answer = await console.post(f"/w/{WS}/webhooks", data=FORM | typed)
    assert answer.status_code == 422
    said = error_under(answer.text, field)
    assert said is not None and message in said, answer.text
    others = {"max_per_second", "burst", "max_in_flight", "ordered_on_failure", "form"} - {field}
    assert [name for name in others if error_under(answer.text, name)] == []
    for name, value in typed.items():
        if name in ("max_per_second", "burst", "max_in_flight"):
            assert input_value(answer.text, name) == value
    assert await store.list_webhooks(WS) == []

    # The Edit form says the same, and the webhook keeps its limits.
    hook = await create_webhook(
        store,
        WS,
        WebhookCreate(name="CRM", event_type="tag.applied", url="https://crm.example/in", max_in_flight=4),
        allow_private=True,
    )
    answer = await console.post(f"/w/{WS}/webhooks/{hook.id}", data=FORM | typed)
    said = error_under(answer.text, field)
    assert answer.status_code == 422 and said is not None and message in said
    assert (await store.get_webhook(hook.id)).max_in_flight == 4


async def test_the_pages_show_badges_waiting_counts_and_why_a_delivery_is_held(
    console: httpx.AsyncClient, store: Store
) -> None:
    def make(name: str, **pacing: Any) -> WebhookCreate:
        return WebhookCreate.model_validate(new_hook(name, **pacing))

    busy = await create_webhook(store, WS, make("Busy", max_per_second=20, max_in_flight=3), allow_private=True)
    bursty = await create_webhook(store, WS, make("Bursty", max_per_second=0.5, burst=4), allow_private=True)
    ordered = await create_webhook(store, WS, make("Ordered", ordered=True), allow_private=True)
    plain = await create_webhook(store, WS, make("Plain"), allow_private=True)
    await held(store, busy.id, 4, "over max_per_second 20")
    await held(store, ordered.id, 1, "behind msg_1 (event evt_1) of the same contact, retrying")

    listed = (await console.get(f"/w/{WS}")).text
    rows = {hook.id: html.unescape(item_of(listed, hook.id)) for hook in (busy, bursty, ordered, plain)}
    badges = {id_: re.findall(r'class="badge pace"[^>]*>([^<]*)<', row) for id_, row in rows.items()}
    assert badges == {busy.id: ["≤20/s", "3 at once"], bursty.id: ["≤0.5/s, burst 4"], ordered.id: ["ordered"],
                      plain.id: []}  # fmt: skip
    waiting = {id_: re.findall(r'class="badge waiting">([^<]*)<', row) for id_, row in rows.items()}
    assert waiting == {busy.id: ["4 waiting"], bursty.id: [], ordered.id: ["1 waiting"], plain.id: []}

    page = html.unescape((await console.get(f"/w/{WS}/webhooks/{ordered.id}")).text)
    assert '<span class="badge waiting">1 waiting</span>' in page
    assert re.search(
        r'held back until <time datetime="[^"]+">[\d: -]+</time> UTC: behind msg_1 \(event evt_1\) of the same '
        r"contact, retrying",
        page,
    )
    assert '<span class="status throttled">throttled</span>' in page
