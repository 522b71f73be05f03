"""With WEBHOOKS_ENCRYPTION_KEY set, every payload Temporal stores is AES-GCM encrypted: the
history read without the key holds no contact name or e-mail; the codec server (with CORS and an
optional token) reads it back; keys rotate."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.client import Client

from api.codec import create_codec_app
from core.codec import ENCODING, EncryptionCodec, new_key, parse_keys
from core.config import Settings
from core.temporal import converter_for
from devstack.receiver import Receiver
from models.samples import sample_event
from models.tables import WebhookCreate
from services.webhooks import create_webhook
from starter import publish
from store.queries import Store
from worker import build_worker

KEY = new_key("k1")
UI = "http://localhost:8233"


@pytest.fixture
async def encrypted(client: Client, settings: Settings, store: Store) -> AsyncIterator[Client]:
    """A client and a worker that encrypt, on the shared dev server."""
    secret_client = await Client.connect(
        client.service_client.config.target_host, namespace=client.namespace, data_converter=converter_for(KEY)
    )
    async with build_worker(secret_client, settings.model_copy(update={"encryption_key": KEY}), store) as w, w:
        yield secret_client


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_histories_hold_no_personal_data_and_the_codec_server_reads_them(
    encrypted: Client, client: Client, settings: Settings, store: Store, receiver: Receiver
) -> None:
    hook = WebhookCreate(name="crm", event_type="tag.applied", url=receiver.url("/crm"))
    await create_webhook(store, "ws_acme", hook, allow_private=True)
    event = sample_event("tag.applied", event_id=f"evt_{uuid.uuid4().hex[:10]}")
    handle = await publish(encrypted, event, task_queue=settings.task_queue)
    assert (await handle.result()).delivered == 1
    assert receiver.at("/crm")[0].json()["data"]["contact"]["name"] == "Jane Doe", "receivers get it in clear"

    # Read with a client that has no key, as the server's database and the UI hold it.
    history = await client.get_workflow_handle(handle.id).fetch_history()
    stored = history.to_json()
    for personal in ("Jane Doe", "jane@example.com", "Asia/Ho_Chi_Minh"):
        assert personal not in stored
    [started] = [e for e in history.events if e.HasField("workflow_execution_started_event_attributes")]
    [sealed] = started.workflow_execution_started_event_attributes.input.payloads
    assert sealed.metadata["encoding"] == ENCODING
    # The SDK passes summaries through the codec too; search attributes and ids stay in clear.
    assert started.user_metadata.summary.metadata["encoding"] == ENCODING
    indexed = started.workflow_execution_started_event_attributes.search_attributes.indexed_fields
    assert indexed["WebhookContactId"].data == b'"c_42"'

    codec_app = create_codec_app(EncryptionCodec(parse_keys(KEY)), [UI], token="s3cret")
    body = json_format.MessageToJson(Payloads(payloads=[sealed, started.user_metadata.summary]))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=codec_app), base_url="http://codec") as http:
        refused = await http.post("/decode", content=body)
        preflight = await http.options("/decode", headers={"origin": UI, "access-control-request-method": "POST"})
        decoded = await http.post("/decode", content=body, headers={"authorization": "Bearer s3cret", "origin": UI})

    assert refused.status_code == 401
    assert preflight.headers["access-control-allow-origin"] == UI
    assert decoded.status_code == 200 and decoded.headers["access-control-allow-origin"] == UI
    [event_input, summary] = decoded.json()["payloads"]
    assert b"Jane Doe" in base64.b64decode(event_input["data"])
    assert b"for contact c_42" in base64.b64decode(summary["data"])


async def test_keys_rotate_the_new_one_encrypts_the_old_one_still_decrypts() -> None:
    old, new = new_key("k1"), new_key("k2")
    payload = Payload(metadata={"encoding": b"json/plain"}, data=b'{"name": "Jane Doe"}')
    [sealed_by_old] = await EncryptionCodec(parse_keys(old)).encode([payload])

    rotated = EncryptionCodec(parse_keys(f"{new},{old}"))
    [sealed_by_new] = await rotated.encode([payload])

    assert sealed_by_new.metadata["encryption-key-id"] == b"k2"
    assert await rotated.decode([sealed_by_old, sealed_by_new]) == [payload, payload]
    with pytest.raises(ValueError, match="key 'k2', which WEBHOOKS_ENCRYPTION_KEY does not hold"):
        await EncryptionCodec(parse_keys(old)).decode([sealed_by_new])


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("nokey", "entry 1 is not ID:BASE64"),
        ("k1:!!!", "key 'k1' is not base64"),
        ("k1:" + base64.b64encode(b"short").decode(), "key 'k1' has 5 bytes; AES-256 needs 32"),
        (f"{KEY},{KEY}", "key id 'k1' appears twice"),
    ],
    ids=["no key", "not base64", "short", "twice"],  # the key is random: ids must not be
)
def test_a_malformed_key_is_refused_at_start(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Settings(encryption_key=value)
