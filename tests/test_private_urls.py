"""SSRF protection: loopback and private targets are refused unless WEBHOOKS_ALLOW_PRIVATE_URLS,
at creation and on the address a delivery actually dials."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError

from core.config import Settings
from core.errors import Refused
from devstack.receiver import Receiver
from models.samples import sample_event
from models.tables import DeliveryStatus, WebhookCreate
from services.webhooks import create_webhook
from starter import publish
from store.queries import Store
from worker import build_worker


@pytest.fixture
async def guarded_queue(client: Client, settings: Settings, store: Store) -> AsyncIterator[str]:
    guarded = settings.model_copy(update={"allow_private_urls": False})
    async with build_worker(client, guarded, store) as worker, worker:
        yield guarded.task_queue


def hook(url: str) -> WebhookCreate:
    return WebhookCreate(name=f"internal {url}", event_type="tag.applied", url=url)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/x",
        "http://localhost/x",
        "http://10.0.0.8/x",
        "http://[::1]/x",
        "http://169.254.169.254/latest",
    ],
)
async def test_creation_refuses_a_private_target_unless_allowed(store: Store, url: str) -> None:
    with pytest.raises(Refused, match="non-public address"):
        await create_webhook(store, "ws_acme", hook(url), allow_private=False)
    created = await create_webhook(store, "ws_acme", hook(url), allow_private=True)
    assert created.url == url


async def test_delivery_refuses_a_loopback_target_and_never_connects(
    client: Client, store: Store, receiver: Receiver, guarded_queue: str
) -> None:
    # Created while allowed (or before a DNS change): the delivery still checks what it dials.
    created = await create_webhook(store, "ws_acme", hook(receiver.url("/internal")), allow_private=True)
    event = sample_event("tag.applied", event_id=f"evt_{uuid.uuid4().hex[:8]}")

    with pytest.raises(WorkflowFailureError) as failure:
        await (await publish(client, event, task_queue=guarded_queue)).result()

    assert isinstance(failure.value.cause, ApplicationError)
    assert "non-public address (127.0.0.1)" in failure.value.cause.message
    assert receiver.requests == []
    [ledger] = await store.deliveries_of_event("ws_acme", event["event_id"])
    assert ledger.webhook_id == created.id
    assert (ledger.status, ledger.attempts) == (DeliveryStatus.FAILED, 1)
