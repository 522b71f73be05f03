"""Hostile input: oversized and malformed events, and receivers that misbehave. Each gets a clear,
bounded outcome, and none stalls the worker."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.client import Client, WorkflowFailureError
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError

from core.config import Settings
from core.temporal import INVALID_INPUT
from devstack.receiver import Receiver, misbehaving_server
from models.events import EventConflict, InvalidEvent, parse_event
from models.payload import WORKFLOW_TYPE
from models.samples import sample_event
from models.tables import WebhookCreate
from services.webhooks import create_webhook
from starter import publish
from store.queries import Store


def event(**contact: Any) -> dict[str, Any]:
    raw = sample_event("tag.applied", event_id=f"evt_{uuid.uuid4().hex[:10]}")
    raw["contact"].update(contact)
    return raw


async def test_an_oversized_event_is_refused_before_anything_starts(client: Client) -> None:
    huge = event(custom_fields={"notes": "x" * (10 * 1024 * 1024)})
    with pytest.raises(InvalidEvent, match=r"10,48\d,\d{3} bytes, larger than the 256 KiB"):
        await publish(client, huge)
    with pytest.raises(InvalidEvent, match="larger than the 256 KiB"):
        parse_event(json.dumps(huge).encode())


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"event_id": "e", "contact": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "recursion limit"),
        (b'{"event_id": "\xff\xfe", "type": "tag.applied"}', "Invalid JSON"),
        (json.dumps(event(custom_fields={"deep": json.loads("[" * 150 + "]" * 150)})).encode(), None),
    ],
)
def test_deep_nesting_and_bad_bytes_get_a_clear_answer(raw: bytes, message: str | None) -> None:
    if message is None:  # nested but within reason: accepted as it is
        assert parse_event(raw).contact.custom_fields["deep"]
        return
    with pytest.raises(InvalidEvent, match=message):
        parse_event(raw)


@pytest.mark.usefixtures("worker")
async def test_ten_thousand_tags_are_delivered_whole(
    client: Client, settings: Settings, store: Store, receiver: Receiver
) -> None:
    await create_webhook(
        store,
        "ws_acme",
        WebhookCreate(name="tags", event_type="tag.applied", url=receiver.url("/tags")),
        allow_private=True,
    )
    tags = [f"tag {i}" for i in range(10_000)]
    await (await publish(client, event(tags=tags), task_queue=settings.task_queue)).result()
    assert receiver.at("/tags")[0].json()["data"]["contact"]["tags"] == tags


@pytest.fixture
async def misbehaving() -> AsyncIterator[str]:
    async with misbehaving_server() as url:
        yield url


@pytest.mark.usefixtures("worker")
async def test_an_endless_body_or_a_huge_header_gets_a_bounded_outcome(
    client: Client, settings: Settings, store: Store, misbehaving: str
) -> None:
    endless = await create_webhook(
        store, "ws_acme", WebhookCreate(name="endless", event_type="tag.applied", url=f"{misbehaving}/endless"),
        allow_private=True,
    )  # fmt: skip
    header = await create_webhook(
        store, "ws_acme", WebhookCreate(name="header", event_type="tag.applied", url=f"{misbehaving}/header"),
        allow_private=True,
    )  # fmt: skip

    with pytest.raises(WorkflowFailureError) as failure:
        await (await publish(client, event(), task_queue=settings.task_queue)).result()

    cause = failure.value.cause
    assert isinstance(cause, ApplicationError)
    outcomes = {o["webhook_id"]: o for o in cause.details[0]["deliveries"]}
    assert outcomes[endless.id]["status"] == "delivered"  # a 2xx is a 2xx; we read 1 KiB of it, no more
    assert outcomes[header.id]["status"] == "failed"
    assert outcomes[header.id]["detail"].startswith("RemoteProtocolError: Receive buffer too long")
    [ledger] = [d for d in await store.list_deliveries(endless.id)]
    assert len(ledger.response_excerpt or "") == 1024


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (json.dumps(event() | {"type": "order.shipped"}).encode(), "unknown event type 'order.shipped'"),
        (b'{"event_id": "e", "contact": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "recursion limit"),
        (b'{"event_id": "\xff\xfe", "type": "tag.applied"}', "Invalid JSON"),
        (json.dumps(event(custom_fields={"notes": "x" * 1024 * 1024})).encode(), "larger than the 256 KiB"),
    ],
    ids=["unknown type", "deep nesting", "invalid UTF-8", "1 MiB"],
)
@pytest.mark.usefixtures("worker")
async def test_a_malformed_start_from_another_sdk_fails_at_once_naming_the_problem(
    client: Client, settings: Settings, raw: bytes, message: str
) -> None:
    # What a platform on another SDK could send: any bytes, as a plain JSON payload, bypassing publish().
    handle = await client.start_workflow(
        WORKFLOW_TYPE,
        RawValue(Payload(metadata={"encoding": b"json/plain"}, data=raw)),
        id=f"event-raw-{uuid.uuid4().hex[:8]}",
        task_queue=settings.task_queue,
    )
    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == INVALID_INPUT
    assert message in cause.message


@pytest.mark.usefixtures("worker")
async def test_an_event_id_reused_for_other_content_is_reported_and_the_first_wins(
    client: Client, settings: Settings, store: Store, receiver: Receiver
) -> None:
    await create_webhook(
        store, "ws_acme", WebhookCreate(name="first", event_type="tag.applied", url=receiver.url("/first")),
        allow_private=True,
    )  # fmt: skip
    first = event(name="Jane")
    handle = await publish(client, first, task_queue=settings.task_queue)
    with pytest.raises(EventConflict, match=f"event {first['event_id']} was already published with other content"):
        await publish(
            client, first | {"contact": first["contact"] | {"name": "Mallory"}}, task_queue=settings.task_queue
        )
    again = await publish(client, first, task_queue=settings.task_queue)  # the same content: idempotent

    assert again.id == handle.id and (await again.result()).delivered == 1
    [delivered] = receiver.at("/first")
    assert delivered.json()["data"]["contact"]["name"] == "Jane"
