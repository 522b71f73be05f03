"""Secrets at rest: every secret the store keeps is encrypted under WEBHOOKS_SECRETS_KEY (store.crypto),
on SQLite and on PostgreSQL. A dump shows none; a key is rotated with the processes running; a key
that does not fit the store stops a process at its start, in one line; nothing is ever written in
clear."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import PG_ADMIN_URL, STORES, empty_database
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import create_async_engine
from standardwebhooks.webhooks import Webhook as Verifier
from temporalio.client import Client
from typer.testing import CliRunner

from cli.main import app
from core.config import Settings
from core.errors import Conflict
from devstack.receiver import Receiver
from models.samples import sample_event
from models.tables import BasicAuth, BearerAuth, Webhook, WebhookCreate, WorkspaceSettingsUpdate
from services.webhooks import create_webhook, rotate_secret
from services.workspaces import update_settings
from starter import publish
from store import crypto, keys
from store.crypto import EncryptedText, Keyring, NoKeyring, SecretsError
from store.db import async_url, sync_url
from store.migrate import downgrade, upgrade
from store.queries import Store
from worker import build_worker

WEBHOOKS = str(Path(sys.executable).parent / "webhooks")
WS = "ws_acme"
NOT_SET = (
    "error: WEBHOOKS_SECRETS_KEY is not set: the store keeps secrets encrypted under it "
    "(make one with: webhooks secrets new-key)"
)


def key(key_id: str) -> str:
    """A fresh `ID:BASE64`."""
    return f"{key_id}:{base64.b64encode(os.urandom(32)).decode()}"


def use(keys: str) -> Keyring:
    """Configure this process as WEBHOOKS_SECRETS_KEY=keys would."""
    ring = crypto.parse_keyring(keys, crypto.VARIABLE)
    crypto.install_keyring(ring)
    return ring


@pytest.fixture(autouse=True)
def keyring_put_back() -> Iterator[None]:
    """Each test configures keys as it likes: the session's keyring is put back after it."""
    previous = crypto.install_keyring(None)
    crypto.install_keyring(previous)
    yield
    crypto.install_keyring(previous)


@pytest.fixture(params=STORES)
def blank_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database, for a test that makes the store under keys of its choosing."""
    with empty_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
async def k1_store(blank_url: str) -> AsyncIterator[tuple[str, Stored]]:
    """A store made under key k1 alone, holding every kind of secret."""
    k1 = key("k1")
    use(k1)
    upgrade(blank_url)
    store = Store.from_url(blank_url)
    try:
        stored = await fill(store, "https://receiver.example/in")
    finally:
        await store.close()
    yield k1, stored


@dataclass
class Stored:
    hooks: dict[str, Webhook]
    notification_secret: str
    plain: list[str]
    """Every secret string the store was given, and each signing secret's HMAC key in base64."""


async def fill(store: Store, url: str) -> Stored:
    """Webhooks with receiver credentials (basic and bearer), one with its signing secret rotated
    (so both the new and the previous one are stored), and a workspace's notification settings."""
    tag = uuid.uuid4().hex[:8]
    basic = BasicAuth(username=f"user-{tag}", password=f"password-{tag}")
    bearer = BearerAuth(token=f"token-{tag}")
    hooks = {}
    for name, auth in (("basic", basic), ("bearer", bearer), ("plain", None)):
        create = WebhookCreate(name=name, event_type="tag.applied", url=url, auth=auth)
        hooks[name] = await create_webhook(store, WS, create, allow_private=True)
    hooks["basic"] = await rotate_secret(store, WS, hooks["basic"].id, timedelta(hours=1))
    ops = await update_settings(
        store, WS, WorkspaceSettingsUpdate(notification_url="https://ops.example/in"), allow_private=True
    )
    secrets = [h.secret for h in hooks.values()] + [hooks["basic"].previous_secret or "", ops.notification_secret]
    plain = [*secrets, *(s.removeprefix("whsec_") for s in secrets)]
    plain += [basic.username, basic.password, bearer.token]
    plain += [h.auth for h in hooks.values() if h.auth]
    assert hooks["basic"].previous_secret and all(plain)
    return Stored(hooks, ops.notification_secret, plain)


def raw_values(url: str) -> list[str]:
    """Every value of every secret column as stored, read with SQL alone."""
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            hooks = conn.execute(text("SELECT secret, previous_secret, auth FROM webhooks")).all()
            ops = conn.execute(text("SELECT notification_secret FROM workspace_settings")).scalars().all()
    finally:
        engine.dispose()
    return [v for row in hooks for v in row if v is not None] + list(ops)


def canary_ids(url: str) -> list[str]:
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            return sorted(conn.execute(text("SELECT key_id FROM secret_keys")).scalars().all())
    finally:
        engine.dispose()


async def webhooks_command(
    *args: str, env: dict[str, str], unset: tuple[str, ...] = (), cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`webhooks ...` as a process of its own, as a shell or a service manager starts it."""
    environ = {k: v for k, v in os.environ.items() if k not in unset} | env
    return await asyncio.to_thread(
        subprocess.run, [WEBHOOKS, *args], env=environ, cwd=cwd, capture_output=True, text=True, timeout=60
    )


def assert_one_line_error(done: subprocess.CompletedProcess[str], expected: str) -> None:
    assert done.returncode != 0, done.stdout
    assert "Traceback" not in done.stderr, done.stderr
    assert done.stderr.strip().splitlines() == [expected], done.stderr


# --- a dump shows no secret ------------------------------------------------------------------------


async def test_a_dump_of_the_store_shows_no_secret(database_url: str, store: Store) -> None:
    stored = await fill(store, "https://receiver.example/in")

    backend = make_url(database_url).get_backend_name()
    if backend == "sqlite":
        path = Path(make_url(database_url).database or "")
        dump = b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
    else:
        pg_dump = await asyncio.to_thread(
            subprocess.run,
            ["/usr/bin/pg_dump", "--no-owner", "--dbname", database_url],
            capture_output=True,
            check=True,
            timeout=60,
        )
        dump = pg_dump.stdout
    assert b"CREATE TABLE public.webhooks" in dump or backend == "sqlite"
    shown = [p for p in stored.plain if p.encode() in dump]
    assert shown == [], f"the dump shows {len(shown)} secret(s)"
    hmac_keys = [base64.b64decode(s.removeprefix("whsec_")) for s in stored.plain if s.startswith("whsec_")]
    assert not any(k in dump for k in hmac_keys)
    # What is there instead: each value sealed under the session's key ("test", tests/conftest.py).
    raw = raw_values(database_url)
    assert len(raw) == 3 + 1 + 2 + 1 and all(v.startswith("enc:v1:test:") for v in raw)
    assert all(v.encode() in dump for v in raw)
    # ...and the application reads them as it wrote them.
    again = await store.get_webhook(stored.hooks["basic"].id)
    assert (again.secret, again.previous_secret, again.auth) == (
        stored.hooks["basic"].secret,
        stored.hooks["basic"].previous_secret,
        stored.hooks["basic"].auth,
    )
    ops = await store.workspace_settings(WS)
    assert ops is not None and ops.notification_secret == stored.notification_secret


# --- rotation --------------------------------------------------------------------------------------


async def test_rotating_the_key_moves_every_secret_and_deliveries_still_sign(
    blank_url: str, client: Client, receiver: Receiver
) -> None:
    k1, k2 = key("k1"), key("k2")
    use(k1)
    upgrade(blank_url)
    store = Store.from_url(blank_url)
    try:
        stored = await fill(store, receiver.url("/rotated"))
        assert all(v.startswith("enc:v1:k1:") for v in raw_values(blank_url))

        # The new key first, the old one after it: what was written reads, what is written is k2's.
        use(f"{k2},{k1}")
        keys.check_secrets(blank_url)  # a process's start: k2's canary is written
        assert canary_ids(blank_url) == ["k1", "k2"]
        env = {"WEBHOOKS_DATABASE_URL": blank_url, "WEBHOOKS_SECRETS_KEY": f"{k2},{k1}"}
        done = await webhooks_command("secrets", "reencrypt", "--batch", "2", "--json", env=env)
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
        assert report == {
            "active_key": "k2",
            "reencrypted": 7,
            "encrypted_from_clear": 0,
            "changed_meanwhile": 0,
            "keys_in_use": {"k2": 7},
            "removed_keys": ["k1"],
            "not_under_active_key": 0,
        }
        assert all(v.startswith("enc:v1:k2:") for v in raw_values(blank_url))
        assert canary_ids(blank_url) == ["k2"]

        # The old key dropped: everything still reads, and a delivery signs with the same secrets.
        use(k2)
        keys.check_secrets(blank_url)
        hook = await store.get_webhook(stored.hooks["basic"].id)
        assert (hook.secret, hook.previous_secret, hook.auth) == (
            stored.hooks["basic"].secret,
            stored.hooks["basic"].previous_secret,
            stored.hooks["basic"].auth,
        )
        settings = Settings(
            database_url=blank_url,
            task_queue=f"webhooks-test-{uuid.uuid4().hex[:8]}",
            retry_schedule=(timedelta(milliseconds=200),),
            request_timeout=timedelta(seconds=5),
            allow_private_urls=True,
            workflow_sandbox=True,
        )
        event = sample_event("tag.applied", event_id=f"evt_{uuid.uuid4().hex[:10]}", workspace_id=WS)
        async with build_worker(client, settings, store) as worker, worker:
            outcome = await (await publish(client, event, task_queue=settings.task_queue)).result()
        assert outcome.delivered == 3
        signed_by = {h.id: h for h in stored.hooks.values()}
        for request in receiver.at("/rotated"):
            sent_to = signed_by[request.json()["data"]["webhook"]["id"]]
            for secret in (sent_to.secret, sent_to.previous_secret):
                if secret:
                    verified = Verifier(secret).verify(request.body, request.headers)
                    assert verified["data"]["event_id"] == event["event_id"]
        assert len(receiver.at("/rotated")) == 3
    finally:
        await store.close()


async def test_reencrypt_runs_beside_a_process_writing(k1_store: tuple[str, Stored], blank_url: str) -> None:
    """The API keeps rotating a secret while the re-encryption runs: nothing fails, nothing written
    meanwhile is overwritten with an older value."""
    k1, stored = k1_store
    use(f"{key('k2')},{k1}")
    store = Store.from_url(blank_url)
    try:
        for n in range(40):  # a few more rows, one per transaction below: the two overlap
            create = WebhookCreate(name=f"more {n}", event_type="tag.applied", url="https://r.example/in")
            await create_webhook(store, WS, create, allow_private=True)
        hook_id = stored.hooks["plain"].id
        running = asyncio.ensure_future(asyncio.to_thread(keys.reencrypt, blank_url, batch=1))
        rotations = 0
        while not running.done() or rotations == 0:
            latest = (await rotate_secret(store, WS, hook_id, timedelta(hours=1))).secret
            rotations += 1
        done = await running

        assert done.not_under_active_key == 0 and done.removed_keys == ["k1"]
        assert all(v.startswith("enc:v1:k2:") for v in raw_values(blank_url))
        assert (await store.get_webhook(hook_id)).secret == latest, f"after {rotations} rotation(s)"
    finally:
        await store.close()


async def test_reencrypt_encrypts_secrets_left_in_clear(k1_store: tuple[str, Stored], blank_url: str) -> None:
    """A value in clear at the head (written by a release before encryption, during an upgrade)
    stops a start, pointing at `webhooks secrets reencrypt`, which encrypts it."""
    _, stored = k1_store
    hook_id = stored.hooks["plain"].id
    engine = create_engine(sync_url(blank_url))
    with engine.begin() as conn:
        conn.execute(text("UPDATE webhooks SET secret = :s WHERE id = :id"), {"s": "whsec_in-clear", "id": hook_id})
    engine.dispose()
    with pytest.raises(SecretsError, match=r"in clear in webhooks.secret .*run `webhooks secrets reencrypt`"):
        keys.check_secrets(blank_url)

    done = keys.reencrypt(blank_url)

    assert (done.encrypted_from_clear, done.reencrypted, done.removed_keys) == (1, 0, [])
    assert all(v.startswith("enc:v1:k1:") for v in raw_values(blank_url))
    keys.check_secrets(blank_url)
    store = Store.from_url(blank_url)
    assert (await store.get_webhook(hook_id)).secret == "whsec_in-clear"
    await store.close()


# --- start errors ----------------------------------------------------------------------------------


async def test_a_process_refuses_to_start_on_a_store_under_a_key_it_does_not_hold(
    k1_store: tuple[str, Stored], blank_url: str, client: Client
) -> None:
    env = {
        "WEBHOOKS_DATABASE_URL": blank_url,
        "WEBHOOKS_SECRETS_KEY": key("k2"),
        "TEMPORAL_ADDRESS": client.service_client.config.target_host,
    }
    expected = "error: the store holds secrets encrypted with key 'k1', which WEBHOOKS_SECRETS_KEY does not hold"

    worker, api, listing = await asyncio.gather(
        webhooks_command("worker", env=env),
        webhooks_command("api", "--port", "0", env=env),  # it never gets as far as listening
        webhooks_command("hook", "list", "-w", WS, env=env),
    )

    assert_one_line_error(worker, expected)
    assert_one_line_error(api, expected)
    assert_one_line_error(listing, expected)
    use(key("k2"))
    with pytest.raises(SecretsError, match=expected.removeprefix("error: ")):
        Store.from_url(blank_url)


@pytest.mark.parametrize("blank_url", ["sqlite"], indirect=True)  # the same check as the unknown key's
async def test_a_wrong_key_under_the_right_id_is_refused_at_start(k1_store: tuple[str, Stored], blank_url: str) -> None:
    env = {"WEBHOOKS_DATABASE_URL": blank_url, "WEBHOOKS_SECRETS_KEY": key("k1")}
    expected = "error: key 'k1' does not decrypt the store's secrets: wrong key"

    worker, upgraded = await asyncio.gather(
        webhooks_command("worker", env=env), webhooks_command("db", "upgrade", env=env)
    )

    assert_one_line_error(worker, expected)
    assert_one_line_error(upgraded, expected)
    # Had a process got past the check, it would still not read a secret with that key.
    use(env["WEBHOOKS_SECRETS_KEY"])
    value = next(v for v in raw_values(blank_url) if v.startswith("enc:v1:k1:"))
    with pytest.raises(SecretsError, match=r"key 'k1' does not decrypt a value of webhooks\.secret: wrong key"):
        crypto.keyring().decrypt("webhooks.secret", value)


async def test_postgresql_with_no_key_is_refused_at_start() -> None:
    # Refused before any connection: the database need not exist, nor PostgreSQL answer.
    env = {"WEBHOOKS_DATABASE_URL": PG_ADMIN_URL.rsplit("/", 1)[0] + "/webhooks_never_made"}
    unset = ("WEBHOOKS_SECRETS_KEY",)

    worker, upgraded, listing = await asyncio.gather(
        webhooks_command("worker", env=env, unset=unset),
        webhooks_command("db", "upgrade", env=env, unset=unset),
        webhooks_command("hook", "list", "-w", WS, env=env, unset=unset),
    )

    for done in (worker, upgraded, listing):
        assert_one_line_error(done, NOT_SET)
    with pytest.raises(SecretsError, match="WEBHOOKS_SECRETS_KEY is not set"):
        keys.resolve_keyring(PG_ADMIN_URL, None, Path("unused.key"))


async def test_on_one_machine_the_key_is_a_file_made_on_the_first_run(tmp_path: Path) -> None:
    """SQLite with no variable: .data/secrets.key beside the store, made once (mode 0600), used by
    every later process; lost, the store says which key it needs."""
    unset = ("WEBHOOKS_SECRETS_KEY", "WEBHOOKS_DATABASE_URL", "WEBHOOKS_SECRETS_KEY_FILE")
    env = {"WEBHOOKS_ALLOW_PRIVATE_URLS": "true"}  # no DNS lookup of example.com
    upgraded = await webhooks_command("db", "upgrade", env=env, unset=unset, cwd=tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr

    key_file = tmp_path / ".data" / "secrets.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    key_id = key_file.read_text().split(":")[0]
    created = await webhooks_command(
        "hook", "create", "-w", WS, "--name", "x", "--event", "tag.applied", "--url", "https://example.com/x",
        "--json", env=env, unset=unset, cwd=tmp_path,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    secret = json.loads(created.stdout)["secret"]
    shown = await webhooks_command(
        "hook", "show", json.loads(created.stdout)["id"], "--secret", "--json", env=env, unset=unset, cwd=tmp_path
    )
    assert json.loads(shown.stdout)["secret"] == secret
    url = f"sqlite:///{tmp_path / '.data' / 'webhooks.db'}"
    assert [v.split(":")[2] for v in raw_values(url)] == [key_id]
    assert canary_ids(url) == [key_id]

    key_file.unlink()
    lost = await webhooks_command("hook", "list", "-w", WS, env=env, unset=unset, cwd=tmp_path)
    assert_one_line_error(
        lost,
        f"error: the store holds secrets encrypted with key {key_id!r}, which the key file "
        f"{Path('.data') / 'secrets.key'} (made just now) does not hold",
    )


def test_the_key_file_is_made_once_and_then_read(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "secrets.key"
    made = keys.resolve_keyring("sqlite:///x.db", None, path)
    again = keys.resolve_keyring("sqlite:///x.db", "", path)
    assert made.active == again.active and made.source.endswith("(made just now)")
    assert again.source == f"the key file {path}"
    assert path.stat().st_mode & 0o777 == 0o600
    assert again.decrypt("webhooks.secret", made.encrypt("webhooks.secret", "whsec_x")) == "whsec_x"
    # The variable, when set, wins over the file.
    assert keys.resolve_keyring("sqlite:///x.db", key("env"), path).active == "env"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("nokey", "WEBHOOKS_SECRETS_KEY: entry 1 is not ID:BASE64 (`webhooks secrets new-key`)"),
        ("k1:!!!", "WEBHOOKS_SECRETS_KEY: key 'k1' is not base64"),
        ("k1:" + base64.b64encode(b"short").decode(), "WEBHOOKS_SECRETS_KEY: key 'k1' has 5 bytes; AES-256 needs 32"),
    ],
    ids=["no key", "not base64", "short"],
)
def test_a_malformed_key_is_refused_in_one_line(value: str, message: str) -> None:
    with pytest.raises(SecretsError) as refused:
        keys.resolve_keyring("postgresql+psycopg://x@127.0.0.1/x", value, Path("unused.key"))
    assert str(refused.value) == message


async def test_a_store_not_migrated_is_refused_at_start(blank_url: str) -> None:
    use(key("k1"))
    upgrade(blank_url, "0004")
    with pytest.raises(
        SecretsError, match=r"^the store's schema predates encrypted secrets: run `webhooks db upgrade`$"
    ):
        Store.from_url(blank_url)


# --- nothing in clear, ever ------------------------------------------------------------------------


async def test_writing_with_no_keyring_installed_is_refused(database_url: str) -> None:
    crypto.install_keyring(None)
    # A store on an engine of its own: Store.from_url would install the configured keyring.
    store = Store(create_async_engine(async_url(database_url)))
    hook = Webhook(name="x", event_type="tag.applied", url="https://example.com/x", workspace_id=WS)
    try:
        with pytest.raises(StatementError) as refused:
            await store.add(hook)
        assert isinstance(refused.value.orig, NoKeyring)
        assert "no secrets keyring is installed" in str(refused.value)
    finally:
        await store.close()
    with pytest.raises(NoKeyring):
        EncryptedText("webhooks.secret").process_bind_param("whsec_x", create_engine("sqlite://").dialect)
    assert raw_values(database_url) == []


def test_a_value_cannot_be_moved_to_another_column() -> None:
    ring = Keyring({"k1": os.urandom(32)})
    sealed = ring.encrypt("webhooks.secret", "whsec_x")
    assert sealed.startswith("enc:v1:k1:") and "whsec_x" not in sealed
    assert ring.decrypt("webhooks.secret", sealed) == "whsec_x"
    with pytest.raises(SecretsError, match=r"key 'k1' does not decrypt a value of webhooks\.previous_secret"):
        ring.decrypt("webhooks.previous_secret", sealed)
    assert ring.encrypt("webhooks.secret", "whsec_x") != sealed, "a fresh nonce each time"


# --- the migration -----------------------------------------------------------------------------------


async def test_upgrading_a_store_with_secrets_in_clear_encrypts_them(blank_url: str) -> None:
    k1 = key("k1")
    use(k1)
    upgrade(blank_url, "0004")
    engine = create_engine(sync_url(blank_url))
    secret, previous = "whsec_" + base64.b64encode(os.urandom(32)).decode(), "whsec_previous-one"
    auth = '{"type":"bearer","token":"token-in-clear"}'
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO webhooks (id, workspace_id, name, event_type, filter, url, enabled, headers, secret,"
                " previous_secret, auth, created_at, updated_at) VALUES ('wh_1', :ws, 'old', 'tag.applied', '{}',"
                " 'https://example.com/x', true, '{}', :secret, :previous, :auth, :now, :now)"
            ),
            {"ws": WS, "secret": secret, "previous": previous, "auth": auth, "now": "2026-01-01T00:00:00+00:00"},
        )
        conn.execute(
            text(
                "INSERT INTO workspace_settings (workspace_id, notification_secret, updated_at)"
                " VALUES (:ws, 'whsec_ops-in-clear', :now)"
            ),
            {"ws": WS, "now": "2026-01-01T00:00:00+00:00"},
        )
    engine.dispose()

    upgrade(blank_url)

    raw = raw_values(blank_url)
    assert len(raw) == 4 and all(v.startswith("enc:v1:k1:") for v in raw)
    assert canary_ids(blank_url) == ["k1"]
    store = Store.from_url(blank_url)
    try:
        hook = await store.get_webhook("wh_1")
        assert (hook.secret, hook.previous_secret, hook.auth) == (secret, previous, auth)
        ops = await store.workspace_settings(WS)
        assert ops is not None and ops.notification_secret == "whsec_ops-in-clear"
        # The rebuilt table kept its expression index: names are still unique whatever their case.
        twin = Webhook(id="wh_2", name="OLD", event_type="tag.applied", url="https://x.example/", workspace_id=WS)
        with pytest.raises(Conflict, match="a webhook named 'OLD' already exists"):
            await store.add(twin)
    finally:
        await store.close()
    if make_url(blank_url).get_backend_name() == "sqlite":
        path = Path(make_url(blank_url).database or "")
        on_disk = b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
        assert not any(s.encode() in on_disk for s in (secret, previous, "token-in-clear", "whsec_ops-in-clear"))

    downgrade(blank_url, "0004")
    engine = create_engine(sync_url(blank_url))
    with engine.connect() as conn:
        row = conn.execute(text("SELECT secret, previous_secret, auth FROM webhooks")).one()
        assert tuple(row) == (secret, previous, auth)
        assert "secret_keys" not in inspect(conn).get_table_names()
    engine.dispose()


# --- the command line ---------------------------------------------------------------------------------


def test_new_key_prints_a_key_with_a_new_id() -> None:
    # In this process: the command opens no store, so a process of its own would show nothing more.
    made, named, refused, as_json = (
        CliRunner().invoke(app, ["secrets", "new-key", *args])
        for args in ([], ["--id", "k9"], ["--id", "a:b"], ["--id", "k10", "--json"])
    )
    ring = crypto.parse_keyring(made.stdout.strip(), crypto.VARIABLE)
    assert ring.active.startswith("k20") and len(made.stdout.strip().splitlines()) == 1
    assert crypto.parse_keyring(named.stdout.strip(), crypto.VARIABLE).active == "k9"
    assert refused.exit_code == 2 and "a key id is not empty" in refused.stderr
    assert json.loads(as_json.stdout)["key"].startswith("k10:")
