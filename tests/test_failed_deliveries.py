"""Finding the failed deliveries gives the ledger's truth, whichever way it is asked: a workspace's
deliveries that gave up and are still undelivered, through the service, the API and the command
line; one redelivered since is no longer among them, although Temporal's visibility still lists
its failed run, and `redeliver --query` leaves it alone, saying so."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import Select
from sqlmodel import col
from temporalio.client import Client, WorkflowFailureError
from temporalio.worker import Worker
from typer.testing import CliRunner

from cli.main import app as cli
from core.config import Settings
from core.errors import NotFound, Refused
from devstack.processes import settings_environment
from devstack.receiver import Answer, Received, Receiver
from models import search_attributes as sa
from models.events import parse_event
from models.runs import EventOutcome
from models.samples import sample_event
from models.tables import Delivery, DeliveryPage, DeliveryStatus, Webhook, WebhookCreate
from services import deliveries, redelivery
from services.webhooks import create_webhook
from starter import publish
from store.migrate import downgrade, upgrade
from store.queries import DeliveryFilter, Store, workspace_deliveries

WS = "ws_acme"
FAILED = DeliveryStatus.FAILED


class Outage:
    """The CRM's endpoint answers 500 to every request until it is fixed."""

    def __init__(self, receiver: Receiver) -> None:
        self.down = True
        receiver.decide = self.answer

    def answer(self, request: Received) -> Answer | None:
        return Answer(500) if self.down and request.path == "/crm" else None


@dataclass(frozen=True)
class Failures:
    """Two events, each to a CRM that gave up on it and a sheet that got it."""

    crm: Webhook
    sheets: Webhook
    first: str
    second: str
    outage: Outage

    @staticmethod
    def workflow_of(event_id: str) -> str:
        return f"event-{WS}-{event_id}"


@pytest.fixture
async def failures(client: Client, settings: Settings, store: Store, receiver: Receiver, worker: Worker) -> Failures:
    def hook(name: str) -> WebhookCreate:
        return WebhookCreate(name=name, event_type="tag.applied", url=receiver.url(f"/{name}"))

    crm = await create_webhook(store, WS, hook("crm"), allow_private=True)
    sheets = await create_webhook(store, WS, hook("sheets"), allow_private=True)
    outage = Outage(receiver)
    events = [
        sample_event("tag.applied", event_id=f"evt_{uuid.uuid4().hex[:10]}", contact_id=c) for c in ("c_1", "c_2")
    ]
    for event in events:  # one after the other: the second is the newer
        with pytest.raises(WorkflowFailureError):
            await (await publish(client, event, task_queue=settings.task_queue)).result()
    return Failures(crm, sheets, events[0]["event_id"], events[1]["event_id"], outage)


async def redeliver_first(f: Failures, client: Client, store: Store, settings: Settings) -> str:
    """The CRM is fixed and the first event redelivered: its re-run's id, once it is done."""
    f.outage.down = False
    done = await redelivery.redeliver(
        client, store, f.workflow_of(f.first), "crm fixed", task_queue=settings.task_queue, ui_url=settings.ui_url
    )
    assert done.run_id is not None
    assert (
        await client.get_workflow_handle(f.workflow_of(f.first), run_id=done.run_id, result_type=EventOutcome).result()
    ).delivered == 2
    return done.run_id


async def failed_list(store: Store, *, webhook_id: str | None = None, contact_id: str | None = None) -> DeliveryPage:
    return await deliveries.list_workspace_deliveries(
        store, WS, ui_url="", namespace="default", status=FAILED, webhook_id=webhook_id, contact_id=contact_id
    )


def events_of(listed: Sequence[Delivery] | Sequence[dict[str, str]] | DeliveryPage) -> list[tuple[str, str]]:
    rows = listed.items if isinstance(listed, DeliveryPage) else listed
    return [(d["webhook_id"], d["event_id"]) if isinstance(d, dict) else (d.webhook_id, d.event_id) for d in rows]


# --- the service, on both stores --------------------------------------------------------------


async def test_the_failed_list_holds_what_is_still_undelivered(
    failures: Failures, client: Client, store: Store, settings: Settings
) -> None:
    f = failures
    assert events_of(await failed_list(store)) == [(f.crm.id, f.second), (f.crm.id, f.first)], "newest first"
    assert events_of(await failed_list(store, contact_id="c_1")) == [(f.crm.id, f.first)]
    assert events_of(await failed_list(store, webhook_id=f.sheets.id)) == []

    await redeliver_first(f, client, store, settings)

    assert events_of(await failed_list(store)) == [(f.crm.id, f.second)]
    delivered = await deliveries.list_workspace_deliveries(
        store, WS, ui_url="", namespace="default", status=DeliveryStatus.DELIVERED, webhook_id=f.crm.id
    )
    assert events_of(delivered) == [(f.crm.id, f.first)], "the same row, delivered now"


async def test_pages_of_several_statuses_and_filters(store: Store) -> None:
    hooks = [
        await create_webhook(
            store, WS, WebhookCreate(name=n, event_type=t, url=f"http://127.0.0.1/{n}"), allow_private=True
        )
        for n, t in (("crm", "tag.applied"), ("mail", "tag.removed"))
    ]
    statuses = [FAILED, DeliveryStatus.DELIVERED, DeliveryStatus.SKIPPED, FAILED, DeliveryStatus.PENDING, FAILED]
    for number, status in enumerate(statuses):
        event = sample_event(
            ("tag.applied", "tag.removed")[number % 2], event_id=f"evt_{number}", contact_id=f"c_{number % 3}"
        )
        [row] = (await store.record_event(parse_event(event), f"event-{WS}-evt_{number}")).matches.webhooks
        await store.update_delivery(row.delivery_id, status=status)
    await store.record_event(
        parse_event(sample_event("tag.applied", event_id="evt_other", workspace_id="ws_other")), "x"
    )
    newest_first = [f"evt_{n}" for n in reversed(range(len(statuses)))]

    async def every_page(limit: int, **narrowed: Any) -> list[str]:
        seen, cursor = [], None
        while True:
            page = await deliveries.list_workspace_deliveries(
                store, WS, ui_url="", namespace="default", cursor=cursor, limit=limit, **narrowed
            )
            seen += [d.event_id for d in page.items]
            if (cursor := page.next_cursor) is None:
                return seen

    assert await every_page(2) == newest_first, "every status, merged newest first"
    assert await every_page(1, status=[FAILED, DeliveryStatus.SKIPPED]) == ["evt_5", "evt_3", "evt_2", "evt_0"]
    assert await every_page(50, event_type="tag.removed") == ["evt_5", "evt_3", "evt_1"]
    assert await every_page(50, status=FAILED, webhook_id=hooks[0].id) == ["evt_0"]
    assert await every_page(50, status=FAILED, contact_id="c_0") == ["evt_3", "evt_0"]

    # A page goes on after a delivery redelivered meanwhile: it still marks the place.
    first = await deliveries.list_workspace_deliveries(store, WS, ui_url="", namespace="", status=FAILED, limit=1)
    await store.update_delivery(first.items[0].id, status=DeliveryStatus.DELIVERED)
    rest = await deliveries.list_workspace_deliveries(
        store, WS, ui_url="", namespace="", status=FAILED, cursor=first.next_cursor
    )
    assert [d.event_id for d in rest.items] == ["evt_3", "evt_0"]

    other = (await store.list_deliveries(hooks[0].id))[0].id
    with pytest.raises(NotFound) as gone:
        await deliveries.list_workspace_deliveries(store, "ws_other", ui_url="", namespace="", cursor=other)
    assert gone.value.field == "cursor"
    with pytest.raises(Refused) as unknown:
        await deliveries.list_workspace_deliveries(store, WS, ui_url="", namespace="", event_type="tag.aplied")
    assert unknown.value.field == "event_type" and "tag.applied" in unknown.value.message


async def plan_of(store: Store, query: Select[Any]) -> str:
    """How the store would read the query, one step a line."""
    async with store.engine.connect() as conn:
        sql = query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
        if conn.dialect.name == "postgresql":
            await conn.exec_driver_sql("SET enable_seqscan = off")  # else a table this small is read whole
            return "\n".join(row[0] for row in (await conn.exec_driver_sql(f"EXPLAIN {sql}")).all())
        return "\n".join(row[-1] for row in (await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")).all())


async def test_the_failed_list_reads_its_index(store: Store, database_url: str) -> None:
    """Each status is read newest first along ix_deliveries_workspace_status, on both stores, which
    the migration makes (the fixture's store is migrated, not created from the models)."""
    mark = Delivery(
        id="msg_1", workspace_id=WS, event_id="e", webhook_id="wh", event_type="tag.applied", workflow_id="w"
    )
    for wanted in (DeliveryFilter(statuses=[FAILED], contact_id="c_1"), DeliveryFilter()):
        plan = await plan_of(store, workspace_deliveries(WS, wanted, mark, 51))
        assert plan.count("ix_deliveries_workspace_status") == len(wanted.statuses or DeliveryStatus), plan
        assert "Seq Scan" not in plan and "SCAN deliveries" not in plan, plan
    one_webhook = await plan_of(store, workspace_deliveries(WS, DeliveryFilter(webhook_id="wh"), mark, 51))
    assert "ix_deliveries_webhook" in one_webhook and "ix_deliveries_workspace_status" not in one_webhook, one_webhook

    async def uses_the_index() -> bool:
        migrated = Store.from_url(database_url)  # a process started after the migration
        try:
            # Its ids only: columns of later migrations are not there yet at 0007.
            failed_only = workspace_deliveries(WS, DeliveryFilter(statuses=[FAILED]), None, 51).with_only_columns(
                col(Delivery.id)
            )
            return "ix_deliveries_workspace_status" in await plan_of(migrated, failed_only)
        finally:
            await migrated.close()

    downgrade(database_url, "0007")
    assert not await uses_the_index()
    if database_url.startswith("postgresql"):  # what a build that failed half way leaves behind
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("CREATE INDEX ix_deliveries_workspace_status ON deliveries (workspace_id)")
    upgrade(database_url)
    assert await uses_the_index()


# --- the API and the command line -----------------------------------------------------------


@pytest.fixture
def cli_env(client: Client, settings: Settings) -> dict[str, str]:
    return settings_environment(settings) | {"TEMPORAL_ADDRESS": client.service_client.config.target_host}


async def webhooks(*args: str, env: dict[str, str], expect: int = 0) -> str:
    """The command, run as from a shell (in a thread: it runs its own event loop)."""
    result = await asyncio.to_thread(CliRunner().invoke, cli, list(args), env=env)
    assert result.exit_code == expect, f"exit {result.exit_code}: {result.stderr}{result.exception!r}"
    return result.stdout if expect == 0 else result.stderr


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_api_and_the_command_line_list_what_is_still_undelivered(
    failures: Failures, client: Client, acme_http: httpx.AsyncClient, cli_env: dict[str, str]
) -> None:
    f = failures

    async def listed() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        answer = await acme_http.get(f"/workspaces/{WS}/deliveries", params={"status": "failed"})
        assert answer.status_code == 200, answer.text
        shown = await webhooks("deliveries", "list", "-w", WS, "--status", "failed", "--json", env=cli_env)
        return events_of(answer.json()["items"]), events_of(json.loads(shown))

    assert await listed() == ([(f.crm.id, f.second), (f.crm.id, f.first)],) * 2
    table = await webhooks("deliveries", "list", "-w", WS, "--status", "failed", "--contact", "c_2", env=cli_env)
    header, row = table.splitlines()
    assert header.split()[:4] == ["DELIVERY", "EVENT", "STATUS", "WEBHOOK"]
    assert row.split()[1:4] == [f.second, "failed", f.crm.id] and row.endswith("HTTP 500; gave up after 3 attempts")

    [first] = [
        d
        for d in (await acme_http.get(f"/workspaces/{WS}/deliveries?status=failed")).json()["items"]
        if d["event_id"] == f.first
    ]
    f.outage.down = False
    redone = await acme_http.post(f"/workspaces/{WS}/deliveries/{first['id']}/redeliver", json={"reason": "crm fixed"})
    assert redone.status_code == 202, redone.text
    await client.get_workflow_handle(f.workflow_of(f.first), run_id=redone.json()["run_id"]).result()

    assert await listed() == ([(f.crm.id, f.second)],) * 2
    # What is left, re-run from the ledger: every failed delivery of the workspace.
    report = json.loads(await webhooks("redeliver", "-w", WS, "--yes", "--json", env=cli_env))
    assert report["workflow_ids"] == [f.workflow_of(f.second)]
    await client.get_workflow_handle(f.workflow_of(f.second), run_id=report["results"][0]["run_id"]).result()
    assert await listed() == ([], [])


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_an_unknown_status_is_refused_naming_it(acme_http: httpx.AsyncClient, cli_env: dict[str, str]) -> None:
    answer = await acme_http.get(f"/workspaces/{WS}/deliveries", params={"status": "gone"})
    assert answer.status_code == 422 and answer.json()["error"]["field"] == "status", answer.text
    said = await webhooks("deliveries", "list", "-w", WS, "--status", "gone", env=cli_env, expect=2)
    assert "'gone' is not one of" in said and "--status" in said
    said = await webhooks("deliveries", "list", "--status", "failed", env=cli_env, expect=2)
    assert "error: give a webhook (HOOK_ID) or --workspace WS" in said


# --- redeliver --query, and what a visibility query can and cannot say ------------------------


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_redeliver_by_query_leaves_alone_what_was_delivered_since(
    failures: Failures, client: Client, store: Store, settings: Settings, cli_env: dict[str, str], receiver: Receiver
) -> None:
    f = failures
    query = f"{sa.FAILED_WEBHOOK_IDS.name} = '{f.crm.id}'"
    failed_runs = f"ExecutionStatus = 'Failed' AND {query}"
    async with asyncio.timeout(20):  # visibility is eventually consistent
        while (await client.count_workflows(failed_runs)).count < 2:
            await asyncio.sleep(0.2)
    rerun = await redeliver_first(f, client, store, settings)

    # Visibility keeps the first event's failed run as it closed, its re-run beside it: no query
    # on it can tell the event was delivered since. The ledger can.
    assert {w.id async for w in client.list_workflows(failed_runs)} == {f.workflow_of(f.first), f.workflow_of(f.second)}
    assert events_of(await failed_list(store)) == [(f.crm.id, f.second)]

    crm_before = len(receiver.at("/crm"))
    report = json.loads(await webhooks("redeliver", "--query", query, "--yes", "--json", env=cli_env))
    assert report["workflow_ids"] == [f.workflow_of(f.second)]
    [left] = report["skipped"]
    assert left["workflow_id"] == f.workflow_of(f.first) and left["action"] == "skipped"
    assert left["detail"].startswith(f"{f.crm.id} delivered since, at ")
    assert left["detail"].endswith(f"; by a reset (run {rerun}, completed)")
    await client.get_workflow_handle(f.workflow_of(f.second), run_id=report["results"][0]["run_id"]).result()
    assert len(receiver.at("/crm")) == crm_before + 1, "only the second event was sent again"

    said = await webhooks("redeliver", "--query", query, "--yes", env=cli_env)
    assert "nothing to re-run: no failed delivery matches" in said
    assert "2 failed workflow(s) the query matched left alone: the ledger has none of their deliveries failed" in said
    assert f.workflow_of(f.first) in said and f.workflow_of(f.second) in said


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_consoles_failed_page_and_live_deliveries_keep_to_the_signed_in_workspace(
    acme_http: httpx.AsyncClient, store: Store
) -> None:
    theirs = await create_webhook(
        store,
        "ws_globex",
        WebhookCreate(name="Theirs", event_type="tag.applied", url="https://globex.example/in"),
        allow_private=True,
    )
    ours = await create_webhook(
        store,
        WS,
        WebhookCreate(name="Ours", event_type="tag.applied", url="https://acme.example/in"),
        allow_private=True,
    )
    await acme_http.post("/console/sign-in", data={"key": acme_http.headers["authorization"].split()[1]})
    assert (await acme_http.get(f"/console/w/{WS}/deliveries/failed")).status_code == 200
    assert (await acme_http.get(f"/console/w/{WS}/webhooks/{ours.id}/deliveries-fragment")).status_code == 200
    assert (await acme_http.get("/console/w/ws_globex/deliveries/failed")).status_code == 403
    assert (await acme_http.get(f"/console/w/ws_globex/webhooks/{theirs.id}/deliveries-fragment")).status_code == 403
    assert (await acme_http.get(f"/console/w/{WS}/webhooks/{theirs.id}/deliveries-fragment")).status_code == 404
