"""Requests shaped for the receiver: a body template (JSON or form), authentication of its own kept
as a secret, a preview without sending, and a test send that shows the receiver's answer."""

from __future__ import annotations

import base64
import json
import logging
import uuid
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from standardwebhooks.webhooks import Webhook as Verifier
from temporalio.client import Client, WorkflowFailureError

from core.config import Settings
from core.logs import JsonFormatter
from devstack.receiver import Receiver
from models.samples import sample_event
from models.tables import DeliveryStatus
from starter import publish
from store.queries import Store

pytestmark = pytest.mark.usefixtures("worker")

WS = "ws_acme"
TOKEN = "pat-na1-7f3a-very-secret-token"
PASSWORD = "zendesk-api-token-9c1e"

TICKET = """{
  "ticket": {
    "subject": "{{ contact.name | default:'A contact' }} wants a human",
    "comment": {"body": "Tags: {{ contact.tags | join:', ' }}\\nChannel: {{ contact.channel }}"},
    "tags": "{{ contact.tags }}",
    "external_id": "{{ contact.id }}"
  }
}"""


async def create(http: httpx.AsyncClient, url: str, **values: Any) -> dict[str, Any]:
    body = {"name": f"hook {uuid.uuid4().hex[:6]}", "event_type": "tag.applied", "url": url} | values
    response = await http.post(f"/workspaces/{WS}/webhooks", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def publish_event(client: Client, settings: Settings, **contact: Any) -> dict[str, Any]:
    event = sample_event("tag.applied", event_id=f"evt_{uuid.uuid4().hex[:10]}")
    event["contact"] |= contact
    await (await publish(client, event, task_queue=settings.task_queue)).result()
    return event


async def test_a_json_template_with_a_bearer_token_reaches_the_receiver_signed(
    client: Client, settings: Settings, receiver: Receiver, acme_http: httpx.AsyncClient
) -> None:
    hook = await create(
        acme_http, receiver.url("/tickets"), body_format="json", body_template=TICKET,
        auth={"type": "bearer", "token": TOKEN},
    )  # fmt: skip
    event = await publish_event(client, settings, name='Jane "JD" Doe\nthe second')

    [request] = receiver.requests
    assert request.headers["content-type"] == "application/json"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert Verifier(hook["secret"]).verify(request.body, request.headers)  # the rendered body is what is signed
    assert request.json() == {
        "ticket": {
            "subject": 'Jane "JD" Doe\nthe second wants a human',
            "comment": {"body": "Tags: VIP, Order Closed\nChannel: messenger"},
            "tags": ["VIP", "Order Closed"],
            "external_id": event["contact"]["id"],
        }
    }


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_form_template_with_basic_auth_is_posted_as_a_form(
    client: Client, settings: Settings, receiver: Receiver, acme_http: httpx.AsyncClient
) -> None:
    form = json.dumps(
        {
            "last_name": "{{ contact.name | last_name }}",
            "first_name": "{{ contact.name | first_name }}",
            "email": "{{ contact.custom_fields.email }}",
            "lead_source": "Chatbot",
            "tag": "{{ contact.tags }}",
        }
    )
    await create(
        acme_http, receiver.url("/lead"), body_format="form", body_template=form,
        auth={"type": "basic", "username": "agent@example.com/token", "password": PASSWORD},
    )  # fmt: skip
    await publish_event(client, settings, name="Nguyễn Thị Lan")

    [request] = receiver.requests
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    expected = base64.b64encode(f"agent@example.com/token:{PASSWORD}".encode()).decode()
    assert request.headers["authorization"] == f"Basic {expected}"
    assert parse_qs(request.body.decode()) == {
        "last_name": ["Thị Lan"],
        "first_name": ["Nguyễn"],
        "email": ["jane@example.com"],
        "lead_source": ["Chatbot"],
        "tag": ["VIP", "Order Closed"],
    }


async def test_receiver_credentials_are_masked_everywhere_and_changed_without_being_shown(
    client: Client,
    settings: Settings,
    store: Store,
    receiver: Receiver,
    acme_http: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    hook = await create(
        acme_http, receiver.url("/crm"), auth={"type": "basic", "username": "agent@example.com", "password": PASSWORD}
    )
    base = f"/workspaces/{WS}/webhooks/{hook['id']}"
    answers = [
        json.dumps(hook),
        (await acme_http.get(base)).text,
        (await acme_http.get(f"/workspaces/{WS}/webhooks")).text,
        (await acme_http.get(f"{base}/preview")).text,
    ]
    assert hook["auth"] == {"type": "basic", "username": "********", "password": "********", "token": None}
    preview = (await acme_http.get(f"{base}/preview")).json()
    assert preview["headers"]["authorization"] == "Basic ********"

    event = await publish_event(client, settings)
    handle = client.get_workflow_handle(f"event-{WS}-{event['event_id']}")
    history = (await handle.fetch_history()).to_json()
    logs = "\n".join(JsonFormatter().format(record) for record in caplog.records)
    for text in [*answers, history, logs]:
        assert PASSWORD not in text and "agent@example.com" not in text

    # Asked for, they are shown: the secret's own route, as for the signing secret.
    revealed = (await acme_http.get(f"{base}/secret")).json()
    assert revealed["auth"] == {"type": "basic", "username": "agent@example.com", "password": PASSWORD}

    # A change replaces the credentials without showing the old ones; null removes them.
    changed = await acme_http.patch(base, json={"auth": {"type": "bearer", "token": TOKEN}})
    assert changed.status_code == 200 and changed.json()["auth"]["token"] == "********"
    await publish_event(client, settings)
    assert receiver.requests[-1].headers["authorization"] == f"Bearer {TOKEN}"
    removed = await acme_http.patch(base, json={"auth": None})
    assert removed.json()["auth"] is None
    await publish_event(client, settings)
    assert "authorization" not in receiver.requests[-1].headers


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_preview_renders_a_draft_and_a_saved_webhook_without_sending(
    receiver: Receiver, acme_http: httpx.AsyncClient
) -> None:
    draft = {
        "name": "Slack", "event_type": "conversation.transferred", "filter": {"to": "human"},
        "url": receiver.url("/services/T0/B0/x"), "body_format": "json",
        "body_template": '{"text": "{{ contact.name }} asks for a human ({{ event.to }})"}',
    }  # fmt: skip
    response = await acme_http.post(f"/workspaces/{WS}/webhook-previews", json=draft)
    assert response.status_code == 200, response.text
    shown = response.json()
    assert shown["method"] == "POST" and shown["url"] == draft["url"]
    assert json.loads(shown["body"]) == {"text": "Jane Doe asks for a human (human)"}
    assert shown["headers"]["content-type"] == "application/json"
    assert shown["event"]["type"] == "conversation.transferred"

    saved = await create(acme_http, receiver.url("/plain"))
    standard = (await acme_http.get(f"/workspaces/{WS}/webhooks/{saved['id']}/preview")).json()
    assert json.loads(standard["body"])["data"]["webhook"]["id"] == saved["id"]
    assert receiver.requests == []  # nothing was sent


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ('{\n  "text": "{{ contact.name | uper }}"\n}', "line 2"),
        ('{"text": "hi",\n "x": }', "line 2"),
        ('{"text": "{{ contac.name }}"}', "contac"),
        ('{"text": "{{ contact.__class__ }}"}', "__class__"),
        ('{"text": "{{ open(\'/etc/passwd\') }}"}', "line 1"),
    ],
)
async def test_a_bad_template_is_refused_at_save_with_the_line_and_the_reason(
    acme_http: httpx.AsyncClient, receiver: Receiver, template: str, expected: str
) -> None:
    body = {
        "name": "bad", "event_type": "tag.applied", "url": receiver.url("/x"),
        "body_format": "json", "body_template": template,
    }  # fmt: skip
    response = await acme_http.post(f"/workspaces/{WS}/webhooks", json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["field"] == "body_template" and expected in error["message"]
    assert (await acme_http.get(f"/workspaces/{WS}/webhooks")).json()["items"] == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_body_too_large_for_one_event_gives_up_that_delivery_only(
    client: Client, settings: Settings, store: Store, receiver: Receiver, acme_http: httpx.AsyncClient
) -> None:
    copies = ", ".join(['"{{ contact.custom_fields.notes }}"'] * 40)
    template = f'{{"notes": [{copies}]}}'
    large = await create(acme_http, receiver.url("/large"), body_format="json", body_template=template)
    plain = await create(acme_http, receiver.url("/plain"))
    with pytest.raises(WorkflowFailureError):
        await publish_event(client, settings, custom_fields={"notes": "n" * 10_000})

    rows = {row.webhook_id: row for row in await store.list_deliveries(large["id"])}
    row = rows[large["id"]]
    assert row.status == DeliveryStatus.FAILED and "body template" in (row.last_error or "")
    assert [r.path for r in receiver.requests] == ["/plain"]
    [other] = await store.list_deliveries(plain["id"])
    assert other.status == DeliveryStatus.DELIVERED


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_test_send_shows_the_receivers_answer(receiver: Receiver, acme_http: httpx.AsyncClient) -> None:
    from devstack.receiver import Answer

    receiver.script("/crm", [Answer(201, body=b'{"id": "lead_17"}')])
    hook = await create(acme_http, receiver.url("/crm"))
    response = await acme_http.post(f"/workspaces/{WS}/webhooks/{hook['id']}/test", params={"wait": "true"})
    answer = response.json()["answer"]
    assert answer["status"] == "delivered" and answer["status_code"] == 201
    assert answer["excerpt"] == '{"id": "lead_17"}'


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_test_send_to_a_failing_receiver_answers_at_once_without_waiting_for_the_retries(
    receiver: Receiver, acme_http: httpx.AsyncClient
) -> None:
    from devstack.receiver import Answer

    receiver.script("/down", [Answer(503, {"retry-after": "120"}, b"maintenance until noon")])
    hook = await create(acme_http, receiver.url("/down"))
    response = await acme_http.post(f"/workspaces/{WS}/webhooks/{hook['id']}/test", params={"wait": "true"})
    shown = response.json()
    assert shown["answer"]["status"] == "pending" and shown["answer"]["status_code"] == 503
    assert shown["answer"]["excerpt"] == "maintenance until noon" and shown["answer"]["next_attempt_at"]
    assert "result" not in shown  # still being retried: no outcome yet


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("auth", "field", "message"),
    [
        ({"type": "bearer", "token": "pat 7f3a\n"}, "auth.token", "must be a bearer token"),
        ({"type": "basic", "username": "a:b", "password": "x"}, "auth.username", "colon"),
        ({"type": "oauth"}, "auth.type", "unknown type 'oauth'; expected one of basic, bearer"),
        ({}, "auth.type", "field required"),
    ],
)
async def test_bad_credentials_are_refused_naming_the_field_and_never_echoed(
    acme_http: httpx.AsyncClient, receiver: Receiver, auth: dict[str, str], field: str, message: str
) -> None:
    body = {"name": "crm", "event_type": "tag.applied", "url": receiver.url("/x"), "auth": auth}
    response = await acme_http.post(f"/workspaces/{WS}/webhooks", json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert (error["field"], message in error["message"]) == (field, True)
    assert "7f3a" not in response.text
