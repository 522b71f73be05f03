"""Which keys the store's secrets are under (store.crypto encrypts them): where the keys come from
(WEBHOOKS_SECRETS_KEY, or on SQLite a key file made on first use), the store checked against them
when a process opens it, every secret re-encrypted under the active key, and the migration's
helpers that encrypt or decrypt the secret columns in place.

Opening the store (store.db.create_engine, under `Store.from_url`) runs `check_secrets`: it
installs the configured keyring and checks the store against it before the process reads or
sends anything. The `secret_keys` table keeps, per key id ever used to encrypt, a canary value
encrypted under it: each must be a configured key, and must decrypt.
"""

from __future__ import annotations

import os
import secrets as random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Engine,
    String,
    Table,
    Text,
    and_,
    bindparam,
    delete,
    func,
    inspect,
    not_,
    or_,
    select,
    update,
)
from sqlalchemy import column as raw_column
from sqlalchemy import table as raw_table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.sql import ColumnElement, TableClause
from sqlmodel import SQLModel

from store.crypto import (
    NEW_KEY_COMMAND,
    PREFIX,
    VARIABLE,
    Keyring,
    NoKeyring,
    SecretsError,
    install_keyring,
    key_id_of,
    parse_keyring,
)
from store.crypto import keyring as installed_keyring
from store.db import STORE_UNAVAILABLE, sync_engine, sync_url

NOT_SET = f"{VARIABLE} is not set: the store keeps secrets encrypted under it (make one with: {NEW_KEY_COMMAND})"
CANARY = "chatbot-webhooks secrets canary"
CANARY_COLUMN = "secret_keys.canary"

SECRET_COLUMNS: dict[str, tuple[str, tuple[str, ...]]] = {
    "webhooks": ("id", ("secret", "previous_secret", "auth")),
    "workspace_settings": ("workspace_id", ("notification_secret",)),
}
"""Every encrypted column: table -> (its primary key, its secret columns)."""

secret_keys = Table(
    "secret_keys",
    SQLModel.metadata,  # beside the models' tables, so that Alembic's comparisons know it
    Column("key_id", String(200), primary_key=True),
    Column("canary", Text, nullable=False),  # CANARY encrypted under the key: proves a key is the one
    Column("created_at", DateTime(timezone=True), nullable=False),
)
"""One row per key id the store's secrets were ever encrypted under, until `reencrypt` leaves
none under it."""


# --- where the keys come from ----------------------------------------------------------------


def new_key_id() -> str:
    """`k` and the UTC time to the second: a new id that sorts after the older ones."""
    return "k" + datetime.now(UTC).strftime("%Y%m%dT%H%M%S")


def new_key(key_id: str | None = None) -> str:
    """A fresh `ID:BASE64` for WEBHOOKS_SECRETS_KEY."""
    from core.codec import new_key as make_key

    return make_key(key_id or new_key_id())


def resolve_keyring(database_url: str, secrets_key: str | None, key_file: Path) -> Keyring:
    """WEBHOOKS_SECRETS_KEY when set; otherwise, for a SQLite store (one machine), the key file,
    made with a fresh key (mode 0600) when absent; otherwise (PostgreSQL) an error."""
    if secrets_key and secrets_key.strip():
        return parse_keyring(secrets_key, VARIABLE)
    if make_url(database_url).get_backend_name() != "sqlite":
        raise SecretsError(NOT_SET)
    text, made = read_or_make_key_file(key_file)
    ring = parse_keyring(text, f"the key file {key_file}")
    if made:
        ring.source += " (made just now)"
    return ring


def read_or_make_key_file(path: Path) -> tuple[str, bool]:
    """The key file's text, and whether it was made now. Made whole or not at all: written to a
    file of its own (mode 0600) and linked into place, so that two processes starting at once
    end up with the same key."""
    try:
        return path.read_text(), False
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    text = new_key() + "\n"
    draft = path.with_name(f".{path.name}.{os.getpid()}.{random.token_hex(4)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.link(draft, path)
    except FileExistsError:
        return path.read_text(), False  # another process made it first: theirs holds
    finally:
        draft.unlink(missing_ok=True)
    return text, True


def configured_keyring(database_url: str) -> Keyring:
    """The keyring in place; when there is none, the one the environment configures for this
    store, installed."""
    try:
        return installed_keyring()
    except NoKeyring:
        pass
    from core.config import Settings

    settings = Settings(database_url=database_url)
    ring = resolve_keyring(database_url, settings.secrets_key, settings.secrets_key_file)
    install_keyring(ring)
    return ring


# --- the store's side: the check at start, the rotation ------------------------------------------


def columns_of(table: str) -> tuple[TableClause, ColumnElement[str], list[ColumnElement[str]]]:
    """A secret table as stored (the raw text, no decryption): itself, its key, its secret columns."""
    pk, names = SECRET_COLUMNS[table]
    raw = raw_table(table, raw_column(pk, Text), *(raw_column(name, Text) for name in names))
    return raw, raw.c[pk], [raw.c[name] for name in names]


def in_clear(column: ColumnElement[str]) -> ColumnElement[bool]:
    return and_(column.is_not(None), not_(column.startswith(PREFIX, autoescape=True)))


def under(column: ColumnElement[str], key_id: str) -> ColumnElement[bool]:
    return column.startswith(f"{PREFIX}{key_id}:", autoescape=True)


def check_secrets(database_url: str, keyring: Keyring | None = None, *, allow_clear: bool = False) -> Keyring:
    """Where a process opens the store, before it reads or sends anything: the configured keyring
    installed (or `keyring`), and the store's secrets known to open with it. Every key the store
    holds secrets under must be configured and must decrypt its canary; the active key's canary is
    written if the store has none yet. A one-line SecretsError otherwise."""
    ring = keyring or configured_keyring(database_url)
    try:
        with sync_engine(database_url) as engine, engine.begin() as conn:
            check_connection(conn, ring, allow_clear=allow_clear)
    except STORE_UNAVAILABLE as err:
        cause = " ".join(str(getattr(err, "orig", None) or err).split())
        raise SecretsError(f"the store does not answer, so its secrets cannot be checked: {cause}") from None
    return ring


def check_connection(conn: Connection, ring: Keyring, *, allow_clear: bool = False) -> None:
    tables = set(inspect(conn).get_table_names())
    if "secret_keys" not in tables:
        if tables & SECRET_COLUMNS.keys():
            raise SecretsError("the store's schema predates encrypted secrets: run `webhooks db upgrade`")
        return  # an empty database: nothing is kept in it yet
    held: dict[str, str] = {k: c for k, c in conn.execute(select(secret_keys.c.key_id, secret_keys.c.canary))}
    for key_id, canary in held.items():
        if key_id not in ring:
            raise SecretsError(
                f"the store holds secrets encrypted with key {key_id!r}, which {ring.source} does not hold"
            )
        if key_id_of(canary) != key_id or not ring.opens(CANARY_COLUMN, canary, CANARY):
            raise SecretsError(f"key {key_id!r} does not decrypt the store's secrets: wrong key")
    if not allow_clear:
        for table in SECRET_COLUMNS:
            _, _, columns = columns_of(table)
            for column in columns:
                if conn.execute(select(column).where(in_clear(column)).limit(1)).first() is not None:
                    raise SecretsError(
                        f"the store holds secrets in clear in {table}.{column.name} (written by a release "
                        "before encryption): run `webhooks secrets reencrypt`"
                    )
    if ring.active not in held:
        write_canary(conn, ring)


def write_canary(conn: Connection, ring: Keyring) -> None:
    """The active key's canary, unless there is one (another process may be writing it just now)."""
    values = {"key_id": ring.active, "canary": ring.encrypt(CANARY_COLUMN, CANARY), "created_at": datetime.now(UTC)}
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(dialect.insert(secret_keys).values(values).on_conflict_do_nothing(index_elements=["key_id"]))


@dataclass
class Reencryption:
    """What `reencrypt` did, in numbers."""

    active_key: str
    reencrypted: int = 0
    """Values moved from an older key to the active one."""
    encrypted_from_clear: int = 0
    """Values found in clear (written by a release before encryption), now encrypted."""
    changed_meanwhile: int = 0
    """Values another process changed while this ran: left as that process wrote them."""
    keys_in_use: dict[str, int] = field(default_factory=dict)
    """Afterwards: how many values each key holds."""
    removed_keys: list[str] = field(default_factory=list)
    """Keys no value is under any more: their canaries are gone, and they can be dropped."""
    not_under_active_key: int = 0
    """Afterwards: values under another key or in clear (written meanwhile by a process on an old
    configuration: restart it with the new key first, and run this again)."""


def reencrypt(database_url: str, keyring: Keyring | None = None, *, batch: int = 500) -> Reencryption:
    """Every secret under the active key, `batch` rows per transaction; then the canaries of the
    keys nothing is under any more removed. Safe beside running processes: a row is rewritten only
    if it still holds what was read."""
    ring = check_secrets(database_url, keyring, allow_clear=True)  # writes the active key's canary
    done = Reencryption(active_key=ring.active)
    with sync_engine(database_url) as engine:
        for table in SECRET_COLUMNS:
            _reencrypt_table(engine, ring, table, batch, done)
        with engine.begin() as conn:
            counts = key_usage(conn, ring)
            held = conn.execute(select(secret_keys.c.key_id)).scalars().all()
            done.removed_keys = [k for k in held if k != ring.active and not counts.get(k)]
            if done.removed_keys:
                conn.execute(delete(secret_keys).where(secret_keys.c.key_id.in_(done.removed_keys)))
        done.keys_in_use = {k: n for k, n in counts.items() if n and k is not None}
        done.not_under_active_key = sum(n for k, n in counts.items() if k != ring.active)
    if make_url(sync_url(database_url)).get_backend_name() == "sqlite":
        with sync_engine(database_url, immediate=False) as engine, engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")  # the old values out of the WAL
    return done


def _reencrypt_table(engine: Engine, ring: Keyring, table: str, batch: int, done: Reencryption) -> None:
    raw, pk, columns = columns_of(table)
    stale = or_(*(and_(c.is_not(None), not_(under(c, ring.active))) for c in columns))
    last: str | None = None
    while True:
        with engine.begin() as conn:
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql("PRAGMA secure_delete = ON")  # overwritten values zeroed on disk
            query = select(pk, *columns).where(stale).order_by(pk).limit(batch)
            rows = conn.execute(query if last is None else query.where(pk > last)).all()
            if not rows:
                return
            for row in rows:
                was = {c.name: row._mapping[c.name] for c in columns}
                now: dict[str, str] = {}
                for name, value in was.items():
                    if value is not None and key_id_of(value) != ring.active:
                        column = f"{table}.{name}"
                        now[name] = ring.encrypt(column, ring.decrypt(column, value) if key_id_of(value) else value)
                # Rewritten only if it still holds what was read: a value changed meanwhile stays.
                same = [raw.c[name] == was[name] for name in now]
                if conn.execute(update(raw).where(pk == row._mapping[pk.name], *same).values(now)).rowcount:
                    clear = sum(key_id_of(was[name]) is None for name in now)
                    done.encrypted_from_clear += clear
                    done.reencrypted += len(now) - clear
                else:
                    done.changed_meanwhile += len(now)
            last = rows[-1]._mapping[pk.name]


def key_usage(conn: Connection, ring: Keyring) -> dict[str | None, int]:
    """How many values are under each key the store or the keyring knows (None: in clear)."""
    known = set(ring.key_ids) | set(conn.execute(select(secret_keys.c.key_id)).scalars().all())
    counts: dict[str | None, int] = {}
    for table in SECRET_COLUMNS:
        raw, _, columns = columns_of(table)
        for column in columns:
            for key_id in known:
                n = conn.execute(select(func.count()).select_from(raw).where(under(column, key_id))).scalar_one()
                counts[key_id] = counts.get(key_id, 0) + n
            n = conn.execute(select(func.count()).select_from(raw).where(in_clear(column))).scalar_one()
            counts[None] = counts.get(None, 0) + n
    return counts


def encrypt_in_place(conn: Connection, ring: Keyring, tables: Mapping[str, tuple[str, tuple[str, ...]]]) -> int:
    """Encrypt every value left in clear in these columns (the migration to encrypted secrets);
    returns how many. By primary key in pages, one statement per column and page."""
    return _rewrite(conn, tables, lambda column, value: None if key_id_of(value) else ring.encrypt(column, value))


def decrypt_in_place(conn: Connection, ring: Keyring, tables: Mapping[str, tuple[str, tuple[str, ...]]]) -> int:
    """The other way (the migration's downgrade): every encrypted value back in clear."""
    return _rewrite(conn, tables, lambda column, value: ring.decrypt(column, value) if key_id_of(value) else None)


def _rewrite(
    conn: Connection,
    tables: Mapping[str, tuple[str, tuple[str, ...]]],
    change: Callable[[str, str], str | None],
    page: int = 1000,
) -> int:
    changed = 0
    for table, (pk_name, names) in tables.items():
        raw = raw_table(table, raw_column(pk_name, Text), *(raw_column(name, Text) for name in names))
        pk = raw.c[pk_name]
        last: str | None = None
        while True:
            query = select(raw).order_by(pk).limit(page)
            rows = conn.execute(query if last is None else query.where(pk > last)).all()
            if not rows:
                break
            for name in names:
                params = []
                for row in rows:
                    value = row._mapping[name]
                    new = None if value is None else change(f"{table}.{name}", value)
                    if new is not None:
                        params.append({"_pk": row._mapping[pk_name], "_value": new})
                if params:
                    conn.execute(update(raw).where(pk == bindparam("_pk")).values({name: bindparam("_value")}), params)
                    changed += len(params)
            last = rows[-1]._mapping[pk_name]
    return changed
