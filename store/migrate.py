"""Applying the Alembic migrations that ship inside the package."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from store.crypto import Keyring
from store.db import ensure_sqlite_folder, sync_engine, sync_url
from store.keys import check_secrets, configured_keyring

MIGRATIONS = Path(__file__).parent / "migrations"
KEYRING = "secrets_keyring"
"""The Alembic config's attribute that hands the migrations the keyring (0005 encrypts with it)."""
SCRUB_SQLITE = "scrub_sqlite"
"""Set by a migration that rewrote secrets of a SQLite store: their old text is cleared from the
file and its write-ahead log afterwards."""


def alembic_config(database_url: str, keyring: Keyring | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", sync_url(database_url).replace("%", "%%"))
    if keyring is not None:
        config.attributes[KEYRING] = keyring
    return config


def upgrade(database_url: str, revision: str = "head", keyring: Keyring | None = None) -> None:
    """Migrate the store; the secrets keyring is the one given, else the configured one
    (store.keys: WEBHOOKS_SECRETS_KEY, or the key file on SQLite). At the head, the store's
    secrets are then checked against it, as a process's start checks them."""
    ensure_sqlite_folder(database_url)
    ring = keyring or configured_keyring(database_url)
    config = alembic_config(database_url, ring)
    command.upgrade(config, revision)
    if config.attributes.get(SCRUB_SQLITE):
        scrub_sqlite(database_url)
    if revision == "head":
        check_secrets(database_url, ring)


def downgrade(database_url: str, revision: str, keyring: Keyring | None = None) -> None:
    ring = keyring or configured_keyring(database_url)
    command.downgrade(alembic_config(database_url, ring), revision)


def scrub_sqlite(database_url: str) -> None:
    """Rewrite a SQLite file and empty its write-ahead log, so that no page keeps a value as it was
    before (a secret in clear, before 0005)."""
    with sync_engine(database_url, immediate=False) as engine, engine.connect() as conn:
        conn.exec_driver_sql("VACUUM")
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
