"""The Webhooks page's own examples, end to end: from the trigger event to the request each service
expects, accepted by a local stand-in that checks it as the service's documentation says
(devstack/services/), and recorded as delivered once."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from temporalio.client import Client

from core.config import Settings
from devstack.receiver import Receiver
from devstack.services import DEMO_PRESET_VALUES, ServiceEmulator, demo_auth, stand_in_url
from models.presets import PRESETS, apply_preset
from models.samples import sample_event
from models.tables import DeliveryStatus, WebhookCreate
from services.webhooks import create_webhook
from starter import publish
from store.queries import Store

# What is checked is the request each service gets; the ledger's part is the same on both stores
# (test_pipeline.py, test_receiver_requests.py): SQLite alone.
pytestmark = [pytest.mark.usefixtures("worker"), pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]

EXAMPLES: dict[str, tuple[str, dict[str, str], dict[str, Any]]] = {
    # preset: (trigger, the webhook's condition, the event's data)
    "google_sheets": ("tag.applied", {"tag": "Order Closed"}, {"tag": "Order Closed"}),
    "zendesk": ("conversation.transferred", {"to": "human"}, {"to": "human"}),
    "freshdesk": ("conversation.transferred", {"to": "human"}, {"to": "human"}),
    "hubspot": ("contact.created", {}, {"source": "ad"}),
    "salesforce": ("contact.created", {}, {"source": "ad"}),
    "mailchimp": ("sequence.subscribed", {}, {"sequence_id": "seq_welcome", "sequence_name": "Welcome"}),
    "slack": ("conversation.transferred", {"to": "human"}, {"to": "human"}),
    "discord": ("conversation.transferred", {"to": "human"}, {"to": "human"}),
}
"""The four of the Webhooks page (a Sheet row when an order closes, a ticket when a chat goes to a
human, a CRM lead from an ad, a welcome e-mail on a sequence), and the chat tools."""


@pytest.mark.parametrize("preset", list(EXAMPLES))
async def test_an_event_reaches_the_service_as_its_documentation_asks_once(
    client: Client, settings: Settings, store: Store, receiver: Receiver, preset: str
) -> None:
    services = receiver.services = ServiceEmulator()
    trigger, condition, data = EXAMPLES[preset]
    values = apply_preset(preset, DEMO_PRESET_VALUES[preset]) | {
        "url": stand_in_url(receiver.url(""), preset),
        "auth": demo_auth(preset),
    }
    create = WebhookCreate(name=PRESETS[preset].label, event_type=trigger, filter=condition, **values)
    hook = await create_webhook(store, "ws_acme", create, allow_private=True)

    event = sample_event(trigger, event_id=f"evt_{uuid.uuid4().hex[:10]}", data=data)
    event["contact"]["name"] = "Trần Thị Quỳnh"
    await (await publish(client, event, task_queue=settings.task_queue)).result()

    [row] = await store.list_deliveries(hook.id)
    assert (row.status, row.attempts) == (DeliveryStatus.DELIVERED, 1), row.last_error
    assert services.rejected == []
    [created] = services.created[preset]
    assert "Quỳnh" in json.dumps(created, ensure_ascii=False)  # the contact's name, whole or split, got there
