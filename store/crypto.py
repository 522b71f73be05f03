"""Secrets at rest: every secret the store keeps (a webhook's signing secret, the previous one during
a rotation, a receiver's credentials, a workspace's notification secret) is AES-256-GCM encrypted
in its column, under a key from the environment. API keys are kept as SHA-256 hashes, not here.

A value is stored as `enc:v1:<key id>:<base64(nonce + ciphertext)>`, sealed with its column's
name (`webhooks.secret`) as associated data, so that it cannot be moved to another column. The
keyring holds one or more keys (`WEBHOOKS_SECRETS_KEY`, `ID:BASE64[,ID:BASE64...]`, a key of its
own, not WEBHOOKS_ENCRYPTION_KEY's): the first encrypts, every one decrypts. A key is rotated by
putting the new key first and the old one after it, restarting the processes, running `webhooks
secrets reencrypt`, then dropping the old key.

A column type has no per-engine context, so the keyring is process-wide (`install_keyring`), and
using an encrypted column before one is installed is an error: nothing is ever written in clear.
Opening the store (store.db.create_engine, under `Store.from_url`) runs `check_secrets`: it
installs the configured keyring and checks the store against it before the process reads or
sends anything. The `secret_keys` table keeps, per key id ever used to encrypt, a canary value
encrypted under it: each must be a configured key, and must decrypt.
"""

from __future__ import annotations

import base64
import os
import secrets as random
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Dialect,
    Engine,
    String,
    Table,
    Text,
    TypeDecorator,
    and_,
    bindparam,
    delete,
    event,
    func,
    inspect,
    not_,
    or_,
    select,
    update,
)
from sqlalchemy import column as raw_column
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import table as raw_table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool
from sqlalchemy.sql import ColumnElement, TableClause
from sqlmodel import SQLModel

from store.db import STORE_UNAVAILABLE, sync_url

VARIABLE = "WEBHOOKS_SECRETS_KEY"
NEW_KEY_COMMAND = "webhooks secrets new-key"
NOT_SET = f"{VARIABLE} is not set: the store keeps secrets encrypted under it (make one with: {NEW_KEY_COMMAND})"
PREFIX = "enc:v1:"
NONCE_BYTES = 12
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


class SecretsError(Exception):
    """The store's secrets cannot be read or written with the keys at hand. The message is one
    line, fit to print as it is."""


class NoKeyring(SecretsError):
    pass


class Keyring:
    """The keys, in order: the first (`active`) encrypts, every one decrypts."""

    def __init__(self, keys: Mapping[str, bytes], source: str = VARIABLE) -> None:
        if not keys:
            raise SecretsError(f"{source} holds no key (make one with: {NEW_KEY_COMMAND})")
        self.active = next(iter(keys))
        self.source = source
        """Where the keys came from, for messages: the variable, or the key file."""
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self._opened: dict[tuple[str, str], str] = {}

    @property
    def key_ids(self) -> list[str]:
        return list(self._ciphers)

    def __contains__(self, key_id: object) -> bool:
        return key_id in self._ciphers

    def encrypt(self, column: str, value: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[self.active].encrypt(nonce, value.encode(), column.encode())
        return f"{PREFIX}{self.active}:{base64.b64encode(nonce + sealed).decode()}"

    def decrypt(self, column: str, stored: str) -> str:
        # The same few webhooks are read on every delivery: a value once opened is kept (the
        # secrets are in this process's memory anyway), within a bound.
        opened = self._opened.get((column, stored))
        if opened is not None:
            return opened
        key_id = key_id_of(stored)
        if key_id is None:
            raise SecretsError(
                f"{column} holds a secret in clear: run `webhooks db upgrade` (a store not migrated), "
                "or `webhooks secrets reencrypt` (one written by an older release)"
            )
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise SecretsError(
                f"{column} holds a secret encrypted with key {key_id!r}, which {self.source} does not hold"
            )
        try:
            data = base64.b64decode(stored[len(PREFIX) + len(key_id) + 1 :], validate=True)
            opened = cipher.decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], column.encode()).decode()
        except (ValueError, InvalidTag):
            raise SecretsError(f"key {key_id!r} does not decrypt a value of {column}: wrong key") from None
        if len(self._opened) >= 10_000:
            self._opened.clear()
        self._opened[(column, stored)] = opened
        return opened

    def opens(self, column: str, stored: str, expected: str) -> bool:
        try:
            return self.decrypt(column, stored) == expected
        except SecretsError:
            return False


def key_id_of(stored: str) -> str | None:
    """The key id an encrypted value names; None for a value in clear."""
    if not stored.startswith(PREFIX):
        return None
    key_id, sep, _ = stored[len(PREFIX) :].partition(":")
    return key_id if sep and key_id else None


def parse_keyring(text: str, source: str) -> Keyring:
    """`ID:BASE64[,ID:BASE64...]` into a keyring; a malformed value is refused in one line."""
    from core.codec import parse_keys

    try:
        return Keyring(parse_keys(text, source, NEW_KEY_COMMAND), source)
    except ValueError as err:
        raise SecretsError(str(err)) from None


def new_key_id() -> str:
    """`k` and the UTC time to the second: a new id that sorts after the older ones."""
    return "k" + datetime.now(UTC).strftime("%Y%m%dT%H%M%S")


def new_key(key_id: str | None = None) -> str:
    """A fresh `ID:BASE64` for WEBHOOKS_SECRETS_KEY."""
    from core.codec import new_key as make_key

    return make_key(key_id or new_key_id())


# --- the process-wide keyring -------------------------------------------------------------------

_keyring: Keyring | None = None


def install_keyring(keys: Keyring | Mapping[str, bytes] | None, source: str = VARIABLE) -> Keyring | None:
    """Put a keyring in place for the whole process (None takes it away); returns the one it
    replaces, to put back."""
    global _keyring
    previous = _keyring
    _keyring = keys if keys is None or isinstance(keys, Keyring) else Keyring(keys, source)
    return previous


def keyring() -> Keyring:
    """The keyring in place; an error when there is none."""
    if _keyring is None:
        raise NoKeyring(
            "no secrets keyring is installed: the store's secret columns are neither written nor read "
            "without one (opening the store with Store.from_url installs the configured one)"
        )
    return _keyring


class EncryptedText(TypeDecorator[str]):
    """A secret column: encrypted on the way in and decrypted on the way out with the process's
    keyring. `column` ("table.column") is sealed with every value."""

    impl = Text
    cache_ok = True

    def __init__(self, column: str) -> None:
        super().__init__()
        self.column = column

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else keyring().encrypt(self.column, value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else keyring().decrypt(self.column, value)


# --- which keys: the configuration ------------------------------------------------------------


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
    if _keyring is not None:
        return _keyring
    from core.config import Settings

    settings = Settings(database_url=database_url)
    ring = resolve_keyring(database_url, settings.secrets_key, settings.secrets_key_file)
    install_keyring(ring)
    return ring


# --- the store's side: the check at start, the rotation ------------------------------------------


@contextmanager
def sync_engine(database_url: str, *, immediate: bool = True) -> Iterator[Engine]:
    """A blocking engine on the store for one job (the check, a re-encryption), then closed.

    On SQLite each transaction takes the write lock as it begins (`immediate`): one that read and
    then wrote would fail at once, busy timeout or not, had another process written in between."""
    url = sync_url(database_url)
    sqlite_store = make_url(url).get_backend_name() == "sqlite"
    engine = create_sync_engine(
        url, poolclass=NullPool, connect_args={"timeout": 30} if sqlite_store else {"connect_timeout": 10}
    )
    if sqlite_store and immediate:

        @event.listens_for(engine, "connect")
        def _no_implicit_begin(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # the driver's own BEGIN off: ours below

        @event.listens_for(engine, "begin")
        def _begin_immediate(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    try:
        yield engine
    finally:
        engine.dispose()


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
