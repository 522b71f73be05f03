"""Hostile input: oversized and malformed events, and receivers that misbehave. Each gets a clear,
bounded outcome, and none stalls the worker."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError

from core.config import Settings
from devstack.receiver import Receiver
from models.events import InvalidEvent, parse_event
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
    """A receiver on 127.0.0.1 that answers /endless with a body that never ends and /header with a
    200 KB header (past httpcore's 100 KiB limit); it gives up by itself after 30 s."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readuntil(b"\r\n\r\n")
        length = int(
            next(line.split(b":")[1] for line in request.split(b"\r\n") if line.lower().startswith(b"content-length"))
        )
        await reader.readexactly(length)
        try:
            if request.startswith(b"POST /endless"):
                writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    writer.write(b"4000\r\n" + b"z" * 0x4000 + b"\r\n")
                    await writer.drain()
            else:
                writer.write(b"HTTP/1.1 200 OK\r\nx-huge: " + b"h" * 200_000 + b"\r\ncontent-length: 0\r\n\r\n")
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}"
        server.close()


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
