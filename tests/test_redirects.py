"""Redirects, per webhook: off by default (a 3xx fails, with a hint), followed when asked, hop by
hop under the address guard, with the signature and the webhook's own headers kept to its host."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from temporalio.client import Client, WorkflowFailureError

from core import netguard
from core.config import Settings
from devstack.receiver import Answer, Receiver
from devstack.services import ServiceEmulator, stand_in_url
from models.samples import sample_event
from models.tables import BasicAuth, DeliveryStatus, Webhook, WebhookCreate
from services.webhooks import create_webhook
from starter import publish
from store.queries import Store
from worker import build_worker

pytestmark = pytest.mark.usefixtures("worker")


@pytest.fixture
def sheets(receiver: Receiver) -> ServiceEmulator:
    receiver.services = ServiceEmulator()
    return receiver.services


async def make_hook(store: Store, url: str, **values: Any) -> Webhook:
    create = WebhookCreate(name=f"sheet {uuid.uuid4().hex[:6]}", event_type="tag.applied", url=url, **values)
    return await create_webhook(store, "ws_acme", create, allow_private=True)


async def deliver(client: Client, task_queue: str) -> str:
    """Send a fresh Tag Applied event; its event id."""
    event = sample_event("tag.applied", event_id=f"evt_{uuid.uuid4().hex[:10]}")
    await (await publish(client, event, task_queue=task_queue)).result()
    return str(event["event_id"])


async def test_an_apps_script_web_app_gets_one_row_when_redirects_are_followed(
    client: Client, settings: Settings, store: Store, receiver: Receiver, sheets: ServiceEmulator
) -> None:
    hook = await make_hook(
        store, stand_in_url(receiver.url(""), "google_sheets"), follow_redirects=True, headers={"x-team": "ops"}
    )
    event_id = await deliver(client, settings.task_queue)

    [row] = await store.deliveries_of_event("ws_acme", event_id)
    assert row.status == DeliveryStatus.DELIVERED and row.attempts == 1
    assert len(sheets.created["google_sheets"]) == 1
    # The chain, as the ledger keeps it: the script's 302, then the other host's 200.
    assert row.redirects == [
        {"host": "127.0.0.1", "status_code": 302},
        {"host": "localhost", "status_code": 200},
    ]
    post, get = receiver.requests
    assert (post.method, get.method) == ("POST", "GET")
    assert post.headers["webhook-signature"] and post.headers["x-team"] == "ops"
    # A 302 after a POST goes on as a GET without the body; the other host gets no signature and
    # none of the webhook's own headers, since the webhook does not forward credentials.
    assert get.body == b""
    assert not {"webhook-signature", "webhook-id", "x-team", "content-type"} & get.headers.keys()
    assert hook.forward_credentials is False


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_without_follow_redirects_the_302_fails_with_the_hint_and_each_attempt_runs_the_script(
    client: Client, settings: Settings, store: Store, receiver: Receiver, sheets: ServiceEmulator
) -> None:
    hook = await make_hook(store, stand_in_url(receiver.url(""), "google_sheets"))
    with pytest.raises(WorkflowFailureError):
        await deliver(client, settings.task_queue)

    [row] = await store.list_deliveries(hook.id)
    assert row.status == DeliveryStatus.FAILED and row.last_status_code == 302
    assert "redirect to http://localhost" in (row.last_error or "")
    assert "turn on follow_redirects" in (row.last_error or "")
    # Why following matters: the script ran (a row) at every attempt, 1 + the 2 retries.
    assert len(sheets.created["google_sheets"]) == 3


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_forwarding_credentials_sends_signature_headers_and_auth_to_the_other_host(
    client: Client, settings: Settings, store: Store, receiver: Receiver, sheets: ServiceEmulator
) -> None:
    await make_hook(
        store, stand_in_url(receiver.url(""), "google_sheets"), follow_redirects=True, forward_credentials=True,
        headers={"x-team": "ops"}, auth=BasicAuth(username="sheet", password="pw"),
    )  # fmt: skip
    await deliver(client, settings.task_queue)
    get = receiver.requests[1]
    assert get.method == "GET" and get.headers["x-team"] == "ops"
    assert get.headers["authorization"].startswith("Basic ") and get.headers["webhook-signature"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("status", "method", "with_body"),
    [(301, "GET", False), (303, "GET", False), (307, "POST", True), (308, "POST", True)],
)
async def test_each_redirect_status_continues_as_browsers_do(
    client: Client, settings: Settings, store: Store, receiver: Receiver, status: int, method: str, with_body: bool
) -> None:
    receiver.script("/moved", [Answer(status, {"location": "/here"})])
    await make_hook(store, receiver.url("/moved"), follow_redirects=True)
    await deliver(client, settings.task_queue)
    first, then = receiver.requests
    assert (then.path, then.method, bool(then.body)) == ("/here", method, with_body)
    if with_body:  # the same host: the repeated POST is the same signed request
        assert then.body == first.body and then.headers["webhook-signature"] == first.headers["webhook-signature"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_more_than_five_redirects_fail(
    client: Client, settings: Settings, store: Store, receiver: Receiver
) -> None:
    for n in range(7):
        receiver.script(f"/r{n}", [Answer(302, {"location": f"/r{n + 1}"})] * 3)
    hook = await make_hook(store, receiver.url("/r0"), follow_redirects=True)
    with pytest.raises(WorkflowFailureError):
        await deliver(client, settings.task_queue)
    [row] = await store.list_deliveries(hook.id)
    assert row.status == DeliveryStatus.FAILED and "more than 5 redirects" in (row.last_error or "")
    assert row.redirects is not None and len(row.redirects) == 6


@pytest.fixture
def second_loopback() -> Iterator[Receiver]:
    """A receiver on 127.0.0.2: loopback, like the first, but another address."""
    with Receiver(host="127.0.0.2") as receiver:
        yield receiver


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_redirect_to_a_private_address_is_refused_at_that_hop(
    client: Client,
    settings: Settings,
    store: Store,
    receiver: Receiver,
    second_loopback: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # No public address can be served here, so 127.0.0.1 plays the public receiver; every other
    # address keeps the guard's real verdict, and 127.0.0.2 is loopback.
    real = netguard.is_public_address
    monkeypatch.setattr(netguard, "is_public_address", lambda address: address == "127.0.0.1" or real(address))
    guarded = settings.model_copy(update={"allow_private_urls": False, "task_queue": f"guarded-{uuid.uuid4().hex[:6]}"})
    receiver.script("/moved", [Answer(302, {"location": second_loopback.url("/inside")})])
    hook = await make_hook(store, receiver.url("/moved"), follow_redirects=True)

    async with build_worker(client, guarded, store) as worker, worker:
        with pytest.raises(WorkflowFailureError):
            await deliver(client, guarded.task_queue)

    [row] = await store.list_deliveries(hook.id)
    assert row.status == DeliveryStatus.FAILED and row.attempts == 1  # refused: not retried
    assert "redirect 1 to 127.0.0.2" in (row.last_error or "") and "non-public address" in (row.last_error or "")
    assert second_loopback.requests == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_another_port_of_the_same_host_is_another_origin(
    client: Client, settings: Settings, store: Store, receiver: Receiver
) -> None:
    with Receiver() as other_port:
        receiver.script("/moved", [Answer(307, {"location": other_port.url("/here")})])
        await make_hook(
            store, receiver.url("/moved"), follow_redirects=True, auth=BasicAuth(username="u", password="p")
        )
        await deliver(client, settings.task_queue)
        [moved] = other_port.requests
    assert moved.method == "POST" and moved.body  # a 307 repeats the POST...
    assert not {"authorization", "webhook-signature"} & moved.headers.keys()  # ...but not the credentials


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("location", "follow", "expected"),
    [
        ("http://127.0.0.1:99999/x", True, "redirect refused: invalid port 99999"),
        ("ftp://127.0.0.1/x", True, "redirect refused: not an HTTP URL (ftp:)"),
        ("http://xn--a.com/", False, "the request could not be made"),  # httpx reads it even when not following
    ],
)
async def test_a_location_that_cannot_be_followed_ends_the_attempt_with_a_reason(
    client: Client, settings: Settings, store: Store, receiver: Receiver, location: str, follow: bool, expected: str
) -> None:
    receiver.script("/odd", [Answer(302, {"location": location})] * 3)
    hook = await make_hook(store, receiver.url("/odd"), follow_redirects=follow)
    with pytest.raises(WorkflowFailureError):
        await deliver(client, settings.task_queue)
    [row] = await store.list_deliveries(hook.id)
    assert row.status == DeliveryStatus.FAILED and expected in (row.last_error or "")
