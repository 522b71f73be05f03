"""Hostile input at the create and intake routes: whatever comes in, the answer is a 4xx with a
message (never a 500), and nothing half-written is left in the store."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlmodel import func, select
from temporalio.client import Client

from api.app import create_app
from core.config import Settings
from models.samples import sample_event
from models.tables import Delivery, Folder, StoredEvent, Webhook
from services.access import create_key
from store.queries import Store

WS = "ws_fuzz"

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
huge_strings = st.builds(lambda n, c: c * n, st.integers(1000, 20000), st.sampled_from(["a", "é", "\x00", "😀"]))
field_values = json_values | huge_strings

webhook_bodies = st.fixed_dictionaries(
    {},
    optional={
        "name": field_values,
        "event_type": st.sampled_from(["tag.applied", "contact.created", "nope"]) | field_values,
        "url": st.sampled_from(["https://x.io/h", "ftp://x", "http://127.0.0.1/", "https://u:p@x.io"]) | field_values,
        "filter": st.dictionaries(st.sampled_from(["tag", "field", "x"]), field_values, max_size=3) | field_values,
        "headers": st.dictionaries(st.text(max_size=20), field_values, max_size=3) | field_values,
        "folder_id": field_values,
        "enabled": field_values,
        "unknown": field_values,
    },
)


def broken_events() -> st.SearchStrategy[Any]:
    def mutate(event: dict[str, Any], path: list[str], value: Any) -> Any:
        target = event
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        return event

    paths = st.sampled_from(
        [["event_id"], ["workspace_id"], ["type"], ["occurred_at"], ["contact"], ["contact", "id"],
         ["contact", "channel"], ["contact", "tags"], ["data"], ["data", "tag"]]
    )  # fmt: skip
    bad = st.builds(
        lambda path, value: mutate(sample_event("tag.applied", workspace_id=WS), path, value),
        paths,
        st.none() | st.integers() | st.lists(st.integers(), max_size=3) | huge_strings | st.text(max_size=5),
    )
    return bad | json_values


raw_bodies = st.binary(max_size=300) | st.sampled_from([b"", b"{", b"[]", b"null", b'{"a":' * 200, b"\xff\xfe"])


@pytest.fixture
async def http(store: Store, client: Client, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    settings.allow_private_urls = False
    app = create_app(settings, store=store, temporal=client)
    key = (await create_key(store, WS, "fuzz")).key
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        headers = {"authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test", headers=headers) as http:
            yield http


async def rows(store: Store) -> tuple[int, ...]:
    async with store.session() as session:
        counts = []
        for table in (Webhook, Folder, StoredEvent, Delivery):
            counts.append((await session.exec(select(func.count()).select_from(table))).one())
        return tuple(counts)


def assert_clear_refusal(response: httpx.Response) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:500])
    error = response.json()["error"]
    assert isinstance(error["message"], str) and error["message"]


FUZZ = hypothesis_settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


@FUZZ
@given(body=webhook_bodies)
async def test_create_refuses_junk_clearly_and_writes_nothing(
    http: httpx.AsyncClient, store: Store, body: dict[str, Any]
) -> None:
    before = await rows(store)
    response = await http.post(f"/workspaces/{WS}/webhooks", json=body)
    if response.status_code == 201:  # hypothesis found a valid webhook: it is whole, and we undo it
        created = response.json()
        assert created["secret"].startswith("whsec_")
        await store.delete_webhook(created["id"])
    else:
        assert_clear_refusal(response)
    assert await rows(store) == before


@FUZZ
@given(raw=raw_bodies)
async def test_create_refuses_bytes_that_are_not_json(http: httpx.AsyncClient, store: Store, raw: bytes) -> None:
    before = await rows(store)
    response = await http.post(f"/workspaces/{WS}/webhooks", content=raw, headers={"content-type": "application/json"})
    assert_clear_refusal(response)
    assert await rows(store) == before


@FUZZ
@given(event=broken_events())
async def test_intake_refuses_broken_events_clearly_and_starts_nothing(
    http: httpx.AsyncClient, store: Store, event: Any
) -> None:
    before = await rows(store)
    response = await http.post("/events", content=json.dumps(event), headers={"content-type": "application/json"})
    assert response.status_code != 202 or isinstance(event, dict), response.text
    if response.status_code != 202:
        assert_clear_refusal(response)
    assert await rows(store) == before  # the workflow (if one started) records nothing without a worker


@FUZZ
@given(raw=raw_bodies)
async def test_intake_refuses_bytes_that_are_not_json(http: httpx.AsyncClient, store: Store, raw: bytes) -> None:
    response = await http.post("/events", content=raw, headers={"content-type": "application/json"})
    assert_clear_refusal(response)
