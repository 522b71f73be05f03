"""The HTTP API through real HTTP requests (httpx against the ASGI app), on SQLite and PostgreSQL,
with a real Temporal dev server, a worker and a real receiver where deliveries are involved."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook as Verifier
from temporalio.client import Client, WorkflowFailureError

from api.app import create_app
from core.config import Settings
from devstack.receiver import Answer, Receiver
from models.samples import sample_event
from services.access import create_key
from store.queries import Store

WS = "ws_acme"


class Api:
    """An HTTP client for one app, with a key per workspace and an admin key."""

    def __init__(self, http: httpx.AsyncClient, keys: dict[str, str], temporal: Client) -> None:
        self.http = http
        self.keys = keys
        self.temporal = temporal

    async def call(self, method: str, path: str, as_: str = WS, **kwargs: Any) -> httpx.Response:
        headers = kwargs.pop("headers", {}) | ({"authorization": f"Bearer {self.keys[as_]}"} if as_ else {})
        return await self.http.request(method, path, headers=headers, **kwargs)

    async def ok(self, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
        response = await self.call(method, path, **kwargs)
        assert response.status_code == expect, response.text
        return response.json()

    async def hook(self, url: str, **values: Any) -> dict[str, Any]:
        body = {"name": f"hook {uuid.uuid4().hex[:6]}", "event_type": "tag.applied", "url": url} | values
        created: dict[str, Any] = await self.ok("POST", f"/workspaces/{WS}/webhooks", 201, json=body)
        return created


@pytest.fixture
async def api(store: Store, client: Client, settings: Settings) -> AsyncIterator[Api]:
    app = create_app(settings, store=store, temporal=client)
    keys = {
        WS: (await create_key(store, WS, "acme")).key,
        "ws_other": (await create_key(store, "ws_other", "other")).key,
        "admin": (await create_key(store, None, "ops")).key,
    }
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as http:
            yield Api(http, keys, client)


def problem(response: httpx.Response) -> tuple[str | None, str]:
    error = response.json()["error"]
    return error["field"], error["message"]


# --- authentication and workspaces ---------------------------------------------------------------


async def test_a_request_without_a_valid_key_is_refused(api: Api, store: Store) -> None:
    assert (await api.call("GET", f"/workspaces/{WS}/webhooks", as_="")).status_code == 401
    response = await api.http.get(f"/workspaces/{WS}/webhooks", headers={"authorization": "Bearer wk_nope"})
    assert response.status_code == 401 and "unknown or revoked" in problem(response)[1]
    [key] = [k for k in await store.list_keys(WS)]
    await store.revoke_key(key.id)
    assert (await api.call("GET", f"/workspaces/{WS}/webhooks")).status_code == 401


async def test_a_key_of_another_workspace_reaches_nothing_of_this_one(api: Api, receiver: Receiver) -> None:
    folder = await api.ok("POST", f"/workspaces/{WS}/folders", 201, json={"name": "CRM"})
    hook = await api.hook(receiver.url("/x"))
    routes = [
        ("GET", f"/workspaces/{WS}/folders", None),
        ("POST", f"/workspaces/{WS}/folders", {"name": "mine now"}),
        ("PATCH", f"/workspaces/{WS}/folders/{folder['id']}", {"name": "renamed"}),
        ("DELETE", f"/workspaces/{WS}/folders/{folder['id']}", None),
        ("GET", f"/workspaces/{WS}/webhooks", None),
        ("POST", f"/workspaces/{WS}/webhooks", {"name": "x", "event_type": "tag.applied", "url": "https://x.io"}),
        ("GET", f"/workspaces/{WS}/webhooks/{hook['id']}", None),
        ("PATCH", f"/workspaces/{WS}/webhooks/{hook['id']}", {"url": "https://evil.example"}),
        ("DELETE", f"/workspaces/{WS}/webhooks/{hook['id']}", None),
        ("POST", f"/workspaces/{WS}/webhooks/{hook['id']}/enable", None),
        ("POST", f"/workspaces/{WS}/webhooks/{hook['id']}/disable", None),
        ("GET", f"/workspaces/{WS}/webhooks/{hook['id']}/secret", None),
        ("POST", f"/workspaces/{WS}/webhooks/{hook['id']}/rotate-secret", None),
        ("POST", f"/workspaces/{WS}/webhooks/{hook['id']}/test", None),
        ("GET", f"/workspaces/{WS}/webhooks/{hook['id']}/deliveries", None),
        ("GET", f"/workspaces/{WS}/deliveries/msg_x", None),
        ("POST", "/events", sample_event("tag.applied", workspace_id=WS)),
    ]
    for method, path, body in routes:
        response = await api.call(method, path, as_="ws_other", json=body)
        assert response.status_code == 403, (method, path, response.text)
        assert "another workspace" in problem(response)[1]
    # ... nor through its own workspace's routes: ids of workspace A are unknown in B.
    for path in (f"/workspaces/ws_other/webhooks/{hook['id']}", f"/workspaces/ws_other/webhooks/{hook['id']}/secret"):
        assert (await api.call("GET", path, as_="ws_other")).status_code == 404
    response = await api.call("DELETE", f"/workspaces/ws_other/folders/{folder['id']}", as_="ws_other")
    assert response.status_code == 404
    # Nothing changed, and an admin key sees it all.
    shown = await api.ok("GET", f"/workspaces/{WS}/webhooks/{hook['id']}", as_="admin")
    assert shown["url"] == hook["url"] and shown["enabled"]
    assert [f["name"] for f in await api.ok("GET", f"/workspaces/{WS}/folders", as_="admin")] == ["CRM"]


async def test_a_change_refused_on_several_fields_lists_each(api: Api) -> None:
    hook = await api.hook("https://crm.example/in")
    response = await api.call(
        "PATCH", f"/workspaces/{WS}/webhooks/{hook['id']}", json={"burst": 3, "body_format": "json"}
    )
    assert response.status_code == 422 and problem(response)[0] == "body_template"
    assert [p["field"] for p in response.json()["error"]["problems"]] == ["body_template", "burst"]


# --- folders ----------------------------------------------------------------------------------------


async def test_folders_create_list_rename_and_delete(api: Api) -> None:
    base = f"/workspaces/{WS}/folders"
    crm = await api.ok("POST", base, 201, json={"name": "  CRM  "})
    assert crm["name"] == "CRM"
    sheets = await api.ok("POST", base, 201, json={"name": "Sheets"})
    response = await api.call("POST", base, json={"name": "crm"})
    assert response.status_code == 409 and problem(response) == (
        "name",
        "a folder named 'CRM' ('crm' is the same name: names are unique whatever their case) already exists",
    )
    response = await api.call("POST", base, json={"name": "   "})
    assert response.status_code == 422 and problem(response)[0] == "name"

    renamed = await api.ok("PATCH", f"{base}/{sheets['id']}", json={"name": "Google Sheets"})
    assert renamed["name"] == "Google Sheets"
    assert (await api.call("PATCH", f"{base}/{sheets['id']}", json={"name": "CRM"})).status_code == 409
    assert [f["name"] for f in await api.ok("GET", base)] == ["CRM", "Google Sheets"]

    hook = await api.hook("https://crm.example/in", folder_id=crm["id"])
    response = await api.call("DELETE", f"{base}/{crm['id']}")
    assert response.status_code == 409 and "holds 1 webhook" in problem(response)[1]
    deleted = await api.ok("DELETE", f"{base}/{crm['id']}", params={"move_webhooks_out": "true"})
    assert deleted == {"id": crm["id"], "deleted": True, "webhooks_moved_out": 1}
    assert (await api.ok("GET", f"/workspaces/{WS}/webhooks/{hook['id']}"))["folder_id"] is None
    assert (await api.call("DELETE", f"{base}/{crm['id']}")).status_code == 404


# --- webhooks ---------------------------------------------------------------------------------------


async def test_create_show_update_and_delete_a_webhook(api: Api) -> None:
    base = f"/workspaces/{WS}/webhooks"
    created = await api.hook(
        "https://crm.example/in", name="Closed orders", filter={"tag": "Order Closed"}, headers={"X-Api-Key": "k1"}
    )
    assert created["secret"].startswith("whsec_") and created["enabled"] and created["workspace_id"] == WS
    shown = await api.ok("GET", f"{base}/{created['id']}")
    assert "secret" not in shown and shown["headers"] == {"X-Api-Key": "k1"}
    assert (await api.ok("GET", f"{base}/{created['id']}/secret"))["secret"] == created["secret"]

    changed = await api.ok("PATCH", f"{base}/{created['id']}", json={"url": "https://crm.example/v2", "name": "Orders"})
    assert (changed["url"], changed["name"], changed["filter"]) == (
        "https://crm.example/v2",
        "Orders",
        {"tag": "Order Closed"},
    )
    response = await api.call("PATCH", f"{base}/{created['id']}", json={"event_type": "contact.archived"})
    assert response.status_code == 422 and "filter 'tag' does not fit contact.archived" in problem(response)[1]
    changed = await api.ok("PATCH", f"{base}/{created['id']}", json={"event_type": "contact.archived", "filter": {}})
    assert changed["event_type"] == "contact.archived"

    assert await api.ok("DELETE", f"{base}/{created['id']}") == {"id": created["id"], "deleted": True}
    response = await api.call("GET", f"{base}/{created['id']}")
    assert response.status_code == 404 and problem(response) == ("webhook_id", f"no webhook {created['id']}")


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"url": "ftp://x.io/a"}, "url", "must start with http:// or https://"),
        ({"url": "https://user:pw@x.io/a"}, "url", "must not carry credentials"),
        ({"url": "https://x.io/" + "a" * 2100}, "url", "at most 2048 characters"),
        ({"url": "http://127.0.0.1:8080/hook"}, "url", "non-public address (127.0.0.1)"),
        ({"url": "http://10.1.2.3/hook"}, "url", "non-public address"),
        ({"name": "  "}, "name", "must not be empty"),
        ({"name": "x" * 201}, "name", "at most 200 characters"),
        ({"event_type": "tag.exploded"}, "event_type", "unknown event type 'tag.exploded'"),
        ({"filter": {"field": "email"}}, "filter", "filter 'field' does not fit tag.applied: it takes only tag"),
        ({"filter": {"tag": ""}}, "filter", "must be a non-empty string"),
        ({"headers": {"Webhook-Signature": "x"}}, "headers", "set by the pipeline"),
        ({"headers": {"bad header": "x"}}, "headers", "not a valid HTTP header name"),
        ({"headers": {"X-A": "a\r\nX-B: b"}}, "headers", "on one line"),
        ({"folder_id": "fld_missing"}, "folder_id", "no folder fld_missing"),
        ({"enabled": "maybe"}, "enabled", "valid boolean"),
    ],
)
async def test_every_rule_answers_4xx_naming_the_field(
    api: Api, settings: Settings, change: dict[str, Any], field: str, message: str
) -> None:
    settings.allow_private_urls = False
    body = {"name": "Sheets", "event_type": "tag.applied", "url": "https://93.184.216.34/hook"} | change
    response = await api.call("POST", f"/workspaces/{WS}/webhooks", json=body)
    assert 400 <= response.status_code < 500, response.text
    got_field, got_message = problem(response)
    assert got_field is not None and got_field.startswith(field), response.text
    assert message in got_message, response.text
    hook = await api.hook("https://93.184.216.34/ok")
    response = await api.call("PATCH", f"/workspaces/{WS}/webhooks/{hook['id']}", json=change)
    assert 400 <= response.status_code < 500 and message in problem(response)[1], response.text
    assert await api.ok("GET", f"/workspaces/{WS}/webhooks/{hook['id']}") == {
        k: v for k, v in hook.items() if k != "secret"
    } | {"waiting": 0}


async def test_names_are_unique_in_their_folder(api: Api) -> None:
    folder = await api.ok("POST", f"/workspaces/{WS}/folders", 201, json={"name": "CRM"})
    await api.hook("https://a.example", name="Orders")
    response = await api.call(
        "POST",
        f"/workspaces/{WS}/webhooks",
        json={"name": "orders", "event_type": "tag.applied", "url": "https://b.io"},
    )
    assert response.status_code == 409 and problem(response)[0] == "name"
    in_folder = await api.hook("https://b.example", name="Orders", folder_id=folder["id"])
    response = await api.call("PATCH", f"/workspaces/{WS}/webhooks/{in_folder['id']}", json={"folder_id": None})
    assert response.status_code == 409 and "already exists in the workspace's top level" in problem(response)[1]
    other = await api.ok(
        "POST", "/workspaces/ws_other/webhooks", 201, as_="ws_other",
        json={"name": "Orders", "event_type": "tag.applied", "url": "https://c.io"},
    )  # fmt: skip
    assert other["name"] == "Orders"


async def test_the_list_pages_and_filters(api: Api) -> None:
    folder = await api.ok("POST", f"/workspaces/{WS}/folders", 201, json={"name": "CRM"})
    made = [await api.hook(f"https://h{i}.example", folder_id=folder["id"] if i % 2 else None) for i in range(5)]
    await api.hook("https://other.example", event_type="contact.created")
    await api.ok("POST", f"/workspaces/{WS}/webhooks/{made[4]['id']}/disable", json={"reason": "paused"})

    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 2, "event_type": "tag.applied"} | ({"cursor": cursor} if cursor else {})
        page = await api.ok("GET", f"/workspaces/{WS}/webhooks", params=params)
        seen += [h["id"] for h in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [h["id"] for h in made] and pages == 3

    in_folder = await api.ok("GET", f"/workspaces/{WS}/webhooks", params={"folder_id": folder["id"]})
    assert [h["id"] for h in in_folder["items"]] == [made[1]["id"], made[3]["id"]]
    off = await api.ok("GET", f"/workspaces/{WS}/webhooks", params={"enabled": "false"})
    assert [(h["id"], h["disabled_reason"]) for h in off["items"]] == [(made[4]["id"], "paused")]
    response = await api.call("GET", f"/workspaces/{WS}/webhooks", params={"limit": 500})
    assert response.status_code == 422 and problem(response)[0] == "limit"
    response = await api.call("GET", f"/workspaces/{WS}/webhooks", params={"cursor": "wh_unknown"})
    assert response.status_code == 404 and problem(response)[0] == "cursor"


# --- deliveries through the API ---------------------------------------------------------------------


@pytest.mark.usefixtures("worker")
async def test_the_toggle_stops_and_resumes_deliveries(api: Api, receiver: Receiver) -> None:
    hook = await api.hook(receiver.url("/toggle"))
    base = f"/workspaces/{WS}/webhooks/{hook['id']}"
    off = await api.ok("POST", f"{base}/disable", json={"reason": "CRM maintenance"})
    assert (off["enabled"], off["disabled_reason"]) == (False, "CRM maintenance")
    await send(api, "evt_while_off")
    assert receiver.at("/toggle") == []

    on = await api.ok("POST", f"{base}/enable")
    assert (on["enabled"], on["disabled_reason"]) == (True, None)
    sent = await send(api, "evt_while_on")
    assert [r.json()["data"]["event_id"] for r in receiver.at("/toggle")] == [sent["event"]["event_id"]]


async def send(api: Api, event_id: str) -> dict[str, Any]:
    """Publish through the intake and wait for the workflow's outcome."""
    event = sample_event("tag.applied", event_id=f"{event_id}_{uuid.uuid4().hex[:6]}", workspace_id=WS)
    started = await api.ok("POST", "/events", 202, json=event)
    result = await api.temporal.get_workflow_handle(started["workflow_id"]).result()
    return {"event": event, "started": started, "result": result}


@pytest.mark.usefixtures("worker")
async def test_a_test_event_arrives_signed_to_that_webhook_only(api: Api, receiver: Receiver) -> None:
    hook = await api.hook(receiver.url("/tested"), filter={"tag": "VIP"})
    await api.hook(receiver.url("/bystander"))  # matches tag.applied too, but is not tested

    started = await api.ok("POST", f"/workspaces/{WS}/webhooks/{hook['id']}/test", 202, params={"wait": "true"})

    assert started["result"]["delivered"] == 1 and started["workflow_id"].startswith(f"event-{WS}-test_")
    [request] = receiver.at("/tested")
    body = Verifier(hook["secret"]).verify(request.body, request.headers)
    assert body["data"]["test"] is True and body["data"]["event"]["tag"] == "VIP"
    assert body["data"]["webhook"] == {"id": hook["id"], "name": hook["name"]}
    assert receiver.at("/bystander") == []
    page = await api.ok("GET", f"/workspaces/{WS}/webhooks/{hook['id']}/deliveries")
    assert [(d["is_test"], d["status"]) for d in page["items"]] == [(True, "delivered")]


@pytest.mark.usefixtures("worker")
async def test_during_a_rotation_the_old_and_the_new_secret_both_verify(api: Api, receiver: Receiver) -> None:
    hook = await api.hook(receiver.url("/rotating"))
    old = hook["secret"]
    rotated = await api.ok("POST", f"/workspaces/{WS}/webhooks/{hook['id']}/rotate-secret", params={"overlap_hours": 1})
    new = rotated["secret"]
    assert new != old and rotated["previous_secret_expires_at"]

    await send(api, "evt_rotation")

    [request] = receiver.at("/rotating")
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    Verifier(old).verify(request.body, request.headers)  # a receiver that has not switched yet
    Verifier(new).verify(request.body, request.headers)  # one that has

    await api.ok("POST", f"/workspaces/{WS}/webhooks/{hook['id']}/rotate-secret", params={"overlap_hours": 0})
    await send(api, "evt_after_overlap")
    assert len(receiver.at("/rotating")[1].headers["webhook-signature"].split(" ")) == 1


@pytest.mark.usefixtures("worker")
async def test_the_delivery_log_shows_each_attempts_outcome(api: Api, receiver: Receiver) -> None:
    hook = await api.hook(receiver.url("/log"))
    receiver.script("/log", [Answer(500, body=b"database down")])
    sent = await send(api, "evt_logged")
    failing = await api.hook(receiver.url("/down"), name="down")
    receiver.script("/down", [Answer(503, body=b"maintenance")] * 3)
    with pytest.raises(WorkflowFailureError):
        await send(api, "evt_failing")

    page = await api.ok("GET", f"/workspaces/{WS}/webhooks/{hook['id']}/deliveries")
    newest, delivery = page["items"]  # newest first: the failing event reached this webhook too
    assert newest["status"] == "delivered" and delivery["event_id"] == sent["event"]["event_id"]
    assert (delivery["status"], delivery["attempts"], delivery["last_status_code"]) == ("delivered", 2, 200)
    assert delivery["response_excerpt"] == "ok" and delivery["latency_ms"] > 0
    assert delivery["workflow_url"].endswith(f"/workflows/{sent['started']['workflow_id']}")
    assert delivery["id"] == receiver.at("/log")[0].headers["webhook-id"]

    failed = await api.ok("GET", f"/workspaces/{WS}/webhooks/{failing['id']}/deliveries", params={"status": "failed"})
    [gave_up] = failed["items"]
    assert (gave_up["attempts"], gave_up["last_status_code"], gave_up["response_excerpt"]) == (3, 503, "maintenance")
    assert "gave up after 3 attempts" in gave_up["last_error"]
    assert (
        await api.ok("GET", f"/workspaces/{WS}/webhooks/{failing['id']}/deliveries", params={"status": "delivered"})
    )["items"] == []
    shown = await api.ok("GET", f"/workspaces/{WS}/deliveries/{gave_up['id']}")
    assert shown == gave_up
    assert (
        await api.call("GET", f"/workspaces/ws_other/deliveries/{gave_up['id']}", as_="ws_other")
    ).status_code == 404


# --- event intake -------------------------------------------------------------------------------------


@pytest.mark.usefixtures("worker")
async def test_the_intake_starts_the_workflow_once_and_it_delivers(api: Api, receiver: Receiver) -> None:
    await api.hook(receiver.url("/intake"))
    event = sample_event("tag.applied", event_id=f"evt_{uuid.uuid4().hex[:8]}", workspace_id=WS)

    first = await api.ok("POST", "/events", 202, json=event)
    again = await api.ok(
        "POST", "/events", 202, content=json.dumps(event), headers={"content-type": "application/json"}
    )

    assert first["workflow_id"] == again["workflow_id"] == f"event-{WS}-{event['event_id']}"
    assert first["ui_url"].endswith(f"/workflows/{first['workflow_id']}")
    await api.temporal.get_workflow_handle(first["workflow_id"]).result()
    assert len(receiver.at("/intake")) == 1
    admin = await api.ok("POST", "/events", 202, as_="admin", json=event | {"event_id": "evt_by_admin"})
    assert admin["workflow_id"] == f"event-{WS}-evt_by_admin"


async def test_the_intake_refuses_bad_events_clearly(api: Api) -> None:
    event = sample_event("sequence.subscribed", workspace_id=WS)
    del event["data"]["sequence_id"]
    response = await api.call("POST", "/events", json=event)
    assert response.status_code == 422
    assert problem(response) == ("data.sequence_id", "invalid event: data.sequence_id: field required")

    huge = sample_event("tag.applied", workspace_id=WS)
    huge["contact"]["custom_fields"]["notes"] = "x" * (300 * 1024)
    response = await api.call("POST", "/events", json=huge)
    assert response.status_code == 413 and "larger than 256 KiB" in problem(response)[1]

    response = await api.call("POST", "/events", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422 and problem(response) == (
        None,
        "invalid event: Invalid JSON: key must be a string at line 1 column 2",
    )


@pytest.mark.usefixtures("worker")
async def test_an_event_id_reused_for_other_content_is_refused(api: Api, receiver: Receiver) -> None:
    await api.hook(receiver.url("/first-wins"))
    sent = await send(api, "evt_first")
    again = sent["event"] | {"data": {"tag": "Something else"}}

    response = await api.call("POST", "/events", json=again)

    assert response.status_code == 409
    field, message = problem(response)
    assert field == "event_id" and "first one is kept" in message
    assert (await api.ok("POST", "/events", 202, json=sent["event"]))["workflow_id"] == sent["started"]["workflow_id"]
    assert [r.json()["data"]["event"]["tag"] for r in receiver.at("/first-wins")] == ["Order Closed"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_body_that_is_not_json_names_no_field_and_a_405_lists_every_method(api: Api) -> None:
    json_type = {"content-type": "application/json"}
    response = await api.call("POST", "/workspaces/ws_acme/webhooks", content=b"{not json", headers=json_type)
    assert response.status_code == 422
    assert problem(response) == (None, "Invalid JSON: Expecting property name enclosed in double quotes at character 1")

    response = await api.call("DELETE", "/workspaces/ws_acme/webhooks")
    assert response.status_code == 405 and response.headers["allow"] == "GET, POST"
    response = await api.call("POST", "/workspaces/ws_acme/webhooks/wh_any")
    assert response.status_code == 405 and response.headers["allow"] == "GET, PATCH, DELETE"
