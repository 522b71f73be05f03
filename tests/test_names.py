"""Folder and webhook names are unique whatever their case or form, in every alphabet, on SQLite and
PostgreSQL alike: a taken name answers 409 naming `name` (never 500), through the check, through the
unique index when two writes race, and in a store migrated from before (0007)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import STORES, empty_database
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import IntegrityError

from core.errors import Conflict
from core.names import MAX_KEY_LENGTH, name_key
from models.tables import Folder, FolderCreate, Webhook, WebhookCreate
from services import webhooks as service
from store.db import sync_url
from store.keys import configured_keyring
from store.migrate import downgrade, upgrade
from store.queries import Store

WS = "ws_acme"
FOLDERS = f"/workspaces/{WS}/folders"
WEBHOOKS = f"/workspaces/{WS}/webhooks"


def full_width(ascii_text: str) -> str:
    """The text's letters in the full-width forms of East Asian typesetting (U+FF21...)."""
    return "".join(chr(ord(c) + 0xFEE0) if c.isalpha() else c for c in ascii_text)


SAME = [
    ("Ärzte", "ärzte"),
    ("STRASSE", "straße"),
    (full_width("Foo"), "foo"),
    ("ﬁle", "FILE"),  # a ligature
    ("ΟΔΟΣ", "οδος"),  # Greek, with its final sigma
    ("ΣΟΦΊΑ", "σοφία"),
    ("ДОБРО", "добро"),  # Cyrillic
    ("\u03aa\u0301", "\u0390"),  # Ϊ́ and ΐ: plain NFKC-then-casefold keeps these apart
    ("Bu\u0308ro", "BÜRO"),  # decomposed and composed
]
"""Pairs that are one name."""
DIFFERENT = [("Ärzte", "Arzte"), ("σοφία", "σοφια"), ("Straße", "Strase"), ("foo", "fo o")]
"""Pairs that are two: accents and spaces are part of a name."""


@pytest.mark.parametrize(("one", "other"), SAME)
def test_a_name_and_its_other_case_or_form_have_one_key(one: str, other: str) -> None:
    assert name_key(one) == name_key(other)


@pytest.mark.parametrize(("one", "other"), DIFFERENT)
def test_names_that_differ_in_more_than_case_or_form_have_two_keys(one: str, other: str) -> None:
    assert name_key(one) != name_key(other)


def body(name: str, **values: Any) -> dict[str, Any]:
    return {"name": name, "event_type": "tag.applied", "url": "https://crm.example/in"} | values


def problem(response: httpx.Response) -> tuple[str | None, str]:
    error = response.json()["error"]
    return error["field"], error["message"]


async def created(http: httpx.AsyncClient, path: str, json: dict[str, Any]) -> dict[str, Any]:
    response = await http.post(path, json=json)
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()
    return made


# --- through the API, on both stores ---------------------------------------------------------------


async def test_a_folder_name_taken_in_another_case_or_form_answers_409(acme_http: httpx.AsyncClient) -> None:
    for one, other in SAME:
        await created(acme_http, FOLDERS, {"name": one})
        response = await acme_http.post(FOLDERS, json={"name": other})
        assert response.status_code == 409, (one, other, response.text)
        same = f"{one!r} ({other!r} is the same name: names are unique whatever their case)"
        assert problem(response) == ("name", f"a folder named {same} already exists")
    for one, other in DIFFERENT:
        await created(acme_http, FOLDERS, {"name": f"{one} and"})
        await created(acme_http, FOLDERS, {"name": f"{other} and"})


async def test_a_webhook_name_taken_in_another_case_or_form_answers_409(acme_http: httpx.AsyncClient) -> None:
    folder = await created(acme_http, FOLDERS, {"name": "CRM"})
    for one, other in SAME:
        await created(acme_http, WEBHOOKS, body(one))
        response = await acme_http.post(WEBHOOKS, json=body(other))
        assert response.status_code == 409, (one, other, response.text)
        same = f"{one!r} ({other!r} is the same name: names are unique whatever their case)"
        assert problem(response) == ("name", f"a webhook named {same} already exists in the workspace's top level")
        # Another folder is another scope; in it, the same rule.
        await created(acme_http, WEBHOOKS, body(other, folder_id=folder["id"]))
        response = await acme_http.post(WEBHOOKS, json=body(one, folder_id=folder["id"]))
        same = f"{other!r} ({one!r} is the same name: names are unique whatever their case)"
        assert problem(response) == ("name", f"a webhook named {same} already exists in this folder")
    for one, other in DIFFERENT:
        await created(acme_http, WEBHOOKS, body(f"{one} and"))
        await created(acme_http, WEBHOOKS, body(f"{other} and"))


async def test_renaming_onto_a_taken_name_answers_409_and_the_key_follows_the_name(
    acme_http: httpx.AsyncClient,
) -> None:
    doctors = await created(acme_http, FOLDERS, {"name": "Ärzte"})
    streets = await created(acme_http, FOLDERS, {"name": "Straße"})
    response = await acme_http.patch(f"{FOLDERS}/{streets['id']}", json={"name": "ÄRZTE"})
    assert response.status_code == 409 and problem(response) == (
        "name",
        "a folder named 'Ärzte' ('ÄRZTE' is the same name: names are unique whatever their case) already exists",
    )
    # Its own name in another case is no clash; and a name left behind is free again.
    response = await acme_http.patch(f"{FOLDERS}/{doctors['id']}", json={"name": "ÄRZTE"})
    assert response.status_code == 200 and response.json()["name"] == "ÄRZTE"
    response = await acme_http.patch(f"{FOLDERS}/{streets['id']}", json={"name": "Gassen"})
    assert response.status_code == 200
    await created(acme_http, FOLDERS, {"name": "STRASSE"})
    assert (await acme_http.post(FOLDERS, json={"name": "ärzte"})).status_code == 409

    orders = await created(acme_http, WEBHOOKS, body("Straße"))
    leads = await created(acme_http, WEBHOOKS, body("Ärzte"))
    response = await acme_http.patch(f"{WEBHOOKS}/{leads['id']}", json={"name": "STRASSE"})
    assert response.status_code == 409
    assert problem(response) == (
        "name",
        "a webhook named 'Straße' ('STRASSE' is the same name: names are unique whatever their case)"
        " already exists in the workspace's top level",
    )
    response = await acme_http.patch(f"{WEBHOOKS}/{orders['id']}", json={"name": "STRASSE"})
    assert response.status_code == 200 and response.json()["name"] == "STRASSE"
    response = await acme_http.patch(f"{WEBHOOKS}/{orders['id']}", json={"name": "Gasse"})
    assert response.status_code == 200
    await created(acme_http, WEBHOOKS, body("straße"))
    assert (await acme_http.post(WEBHOOKS, json=body("GASSE"))).status_code == 409


async def test_concurrent_creates_of_one_name_make_one_row_and_answer_one_201(acme_http: httpx.AsyncClient) -> None:
    spellings = ["Ärzte", "ärzte", "ÄRZTE", "A\u0308rzte", "ärZTE", "ÄrZtE"]
    for path, make in ((FOLDERS, lambda n: {"name": n}), (WEBHOOKS, body)):
        answers = await asyncio.gather(*(acme_http.post(path, json=make(name)) for name in spellings))
        assert sorted(a.status_code for a in answers) == [201] + [409] * (len(spellings) - 1), [a.text for a in answers]
        assert all(problem(a)[0] == "name" for a in answers if a.status_code == 409)
        listed = (await acme_http.get(path)).json()
        names = [row["name"] for row in (listed["items"] if path == WEBHOOKS else listed)]
        assert [name_key(n) for n in names] == ["ärzte"]


async def test_moving_webhooks_out_onto_taken_names_answers_409(acme_http: httpx.AsyncClient) -> None:
    folder = await created(acme_http, FOLDERS, {"name": "CRM"})
    inside = await created(acme_http, WEBHOOKS, body("Ärzte", folder_id=folder["id"]))
    await created(acme_http, WEBHOOKS, body("ÄRZTE"))
    response = await acme_http.delete(f"{FOLDERS}/{folder['id']}", params={"move_webhooks_out": "true"})
    assert response.status_code == 409, response.text
    assert problem(response) == (
        "move_webhooks_out",
        "folder 'CRM' cannot move its webhooks out: the workspace's top level has 'Ärzte' already"
        " (names are unique whatever their case); rename them first",
    )
    assert (await acme_http.get(f"{WEBHOOKS}/{inside['id']}")).json()["folder_id"] == folder["id"]
    assert [f["name"] for f in (await acme_http.get(FOLDERS)).json()] == ["CRM"]

    # The console's delete form says the same under its checkbox (not that the folder holds webhooks).
    await acme_http.post("/console/sign-in", data={"key": acme_http.headers["authorization"].split()[1]})
    page = await acme_http.post(
        f"/console/w/{WS}/folders/{folder['id']}/delete",
        data={"move_out": "true"},
        headers={"origin": "http://api.test"},
    )
    assert page.status_code == 409
    assert "cannot move its webhooks out: the workspace&#39;s top level has &#39;Ärzte&#39; already" in page.text
    assert "move them out first" not in page.text


async def test_a_name_too_long_once_folded_is_refused_naming_it(acme_http: httpx.AsyncClient) -> None:
    ligatures = "\ufb03" * 150  # ﬃ: 150 characters, 450 once folded
    assert len(name_key(ligatures)) > MAX_KEY_LENGTH
    for response in (
        await acme_http.post(FOLDERS, json={"name": ligatures}),
        await acme_http.post(WEBHOOKS, json=body(ligatures)),
    ):
        assert response.status_code == 422 and problem(response)[0] == "name", response.text
    await created(acme_http, FOLDERS, {"name": "ß" * 200})  # 400 once folded: fits


# --- the service and the store: the unique index answers as the check does -------------------------


async def test_the_service_refuses_a_taken_name_as_the_api_does(store: Store) -> None:
    await service.create_folder(store, WS, FolderCreate(name="Ärzte"))
    with pytest.raises(Conflict) as refused:
        await service.create_folder(store, WS, FolderCreate(name="ärzte"))
    assert (refused.value.field, refused.value.message) == (
        "name",
        "a folder named 'Ärzte' ('ärzte' is the same name: names are unique whatever their case) already exists",
    )
    await service.create_webhook(store, WS, WebhookCreate.model_validate(body("ДОБРО")), allow_private=True)
    with pytest.raises(Conflict) as refused:
        await service.create_webhook(store, WS, WebhookCreate.model_validate(body("добро")), allow_private=True)
    assert refused.value.field == "name"


async def test_a_write_past_the_check_meets_the_index_and_answers_409(store: Store) -> None:
    """What a create racing another one meets: the check passed, the index refuses."""
    await store.add(Folder(name="Ärzte", workspace_id=WS))
    with pytest.raises(Conflict) as refused:
        await store.add(Folder(name="ärzte", workspace_id=WS))
    assert (refused.value.field, refused.value.message) == ("name", "a folder named 'ärzte' already exists")
    hook = Webhook(name="Straße", workspace_id=WS, event_type="tag.applied", url="https://a.example/")
    await store.add(hook)
    with pytest.raises(Conflict) as refused:
        await store.add(Webhook(name="STRASSE", workspace_id=WS, event_type="tag.applied", url="https://b.example/"))
    assert refused.value.message == "a webhook named 'STRASSE' already exists in the workspace's top level"
    other = Webhook(name="Gasse", workspace_id=WS, event_type="tag.applied", url="https://c.example/")
    await store.add(other)
    other_id, other.name = other.id, "strasse"
    with pytest.raises(Conflict):
        await store.save_webhook(other)
    assert [f.name for f in await store.list_folders(WS)] == ["Ärzte"]
    assert (await store.get_webhook(other_id)).name == "Gasse"


# --- the migration: a store from before, with names that now clash --------------------------------


@pytest.fixture(params=STORES)
def blank_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with empty_database(request.param, tmp_path) as url:
        yield url


def at(minute: int) -> str:
    return (datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=minute)).isoformat(sep=" ")


async def test_the_migration_keeps_every_clashing_name_renaming_the_later_ones(
    blank_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    upgrade(blank_url, "0006")
    secret = configured_keyring(blank_url).encrypt("webhooks.secret", "whsec_x")
    engine = create_engine(sync_url(blank_url))
    folders = [  # (id, workspace, name, created): lower() let each in, and their keys clash
        ("fld_1", WS, "Ärzte", at(1)),
        ("fld_2", WS, "ärzte", at(2)),
        ("fld_3", WS, "ÄRZTE (2)", at(3)),  # takes the first free suffix's key: fld_2 gets "(3)"
        ("fld_4", "ws_other", "ärzte", at(4)),  # another workspace: no clash
    ]
    hooks = [  # (id, folder, name, created)
        ("wh_1", None, "Straße", at(1)),
        ("wh_2", None, "STRASSE", at(2)),
        ("wh_3", "fld_1", "strasse", at(3)),  # in a folder: another scope
        ("wh_4", "fld_1", full_width("Strasse"), at(4)),
    ]
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO folders (id, workspace_id, name, created_at) VALUES (:id, :ws, :name, :at)"),
            [{"id": i, "ws": ws, "name": name, "at": when} for i, ws, name, when in folders],
        )
        conn.execute(
            text(
                "INSERT INTO webhooks (id, workspace_id, folder_id, name, event_type, filter, url, enabled, secret,"
                " created_at, updated_at) VALUES (:id, :ws, :folder, :name, 'tag.applied', '{}',"
                " 'https://x.example/', true, :secret, :at, :at)"
            ),
            [
                {"id": i, "ws": WS, "folder": folder, "name": name, "secret": secret, "at": when}
                for i, folder, name, when in hooks
            ],
        )
    engine.dispose()

    with caplog.at_level(logging.WARNING, logger="store.migrate"):
        upgrade(blank_url)

    store = Store.from_url(blank_url)
    try:
        by_id = {f.id: f for f in [*await store.list_folders(WS), *await store.list_folders("ws_other")]}
        assert {i: (f.name, f.name_key) for i, f in by_id.items()} == {
            "fld_1": ("Ärzte", "ärzte"),
            "fld_2": ("ärzte (3)", "ärzte (3)"),
            "fld_3": ("ÄRZTE (2)", "ärzte (2)"),
            "fld_4": ("ärzte", "ärzte"),
        }
        shown = {h.id: (h.name, h.name_key) for h in await store.list_webhooks(WS)}
        assert shown == {
            "wh_1": ("Straße", "strasse"),
            "wh_2": ("STRASSE (2)", "strasse (2)"),
            "wh_3": ("strasse", "strasse"),
            "wh_4": (full_width("Strasse") + " (2)", "strasse (2)"),
        }
        # The migrated store keeps the rule: a name taken in another case answers 409.
        with pytest.raises(Conflict):
            await service.create_folder(store, WS, FolderCreate(name="ÄRZTE"))
        with pytest.raises(Conflict):
            await store.add(Webhook(name="straße", workspace_id=WS, event_type="tag.applied", url="https://y.io/"))
    finally:
        await store.close()
    renamed = sorted(r.getMessage() for r in caplog.records if r.name == "store.migrate")
    assert len(renamed) == 3, renamed
    assert renamed[0].startswith("folder fld_2 renamed 'ärzte' to 'ärzte (3)': folder fld_1")
    assert "webhook wh_2 renamed 'STRASSE' to 'STRASSE (2)': webhook wh_1" in renamed[1]
    assert (
        f"renamed {full_width('Strasse')!r} to {full_width('Strasse (2)')!r}" in renamed[2]
        and "folder fld_1" in renamed[2]
    )

    if blank_url.startswith("postgresql"):
        # A write that does not set the key (an older release during the rollout) is refused,
        # rather than let in with an empty key that escapes the rule.
        engine = create_engine(sync_url(blank_url))
        with engine.connect() as conn, pytest.raises(IntegrityError, match="name_key"):
            insert = "INSERT INTO folders (id, workspace_id, name, created_at) VALUES ('fld_9', :ws, 'x', :at)"
            conn.execute(text(insert), {"ws": WS, "at": at(9)})
        engine.dispose()

    # Down to 0006 (the lower() indexes back, the names as renamed) and up again.
    downgrade(blank_url, "0006")
    engine = create_engine(sync_url(blank_url))
    with engine.connect() as conn:
        for table in ("folders", "webhooks"):
            assert "name_key" not in {c["name"] for c in inspect(conn).get_columns(table)}
        assert conn.execute(text("SELECT name FROM folders WHERE id = 'fld_2'")).scalar() == "ärzte (3)"
        with pytest.raises(IntegrityError, match=r"(?i)unique"):  # the lower() index is back
            conn.execute(
                text(
                    "INSERT INTO webhooks (id, workspace_id, name, event_type, filter, url, enabled, secret,"
                    " created_at, updated_at) VALUES ('wh_5', :ws, 'strasse (2)', 'tag.applied', '{}',"
                    " 'https://x.example/', true, :secret, :at, :at)"
                ),
                {"ws": WS, "secret": secret, "at": at(5)},
            )
    engine.dispose()
    upgrade(blank_url)


def test_a_long_name_renamed_by_the_migration_still_fits(blank_url: str) -> None:
    upgrade(blank_url, "0006")
    engine = create_engine(sync_url(blank_url))
    long = "Ä" + "x" * 199
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO folders (id, workspace_id, name, created_at) VALUES (:id, :ws, :name, :at)"),
            [
                {"id": "fld_1", "ws": WS, "name": long, "at": at(1)},
                {"id": "fld_2", "ws": WS, "name": long.lower(), "at": at(2)},
            ],
        )
    engine.dispose()
    upgrade(blank_url)
    engine = create_engine(sync_url(blank_url))
    with engine.connect() as conn:
        renamed = conn.execute(text("SELECT name FROM folders WHERE id = 'fld_2'")).scalar()
    engine.dispose()
    assert renamed == "ä" + "x" * 195 + " (2)"
