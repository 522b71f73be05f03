"""secrets encrypted at rest: webhooks.secret, previous_secret, auth, workspace_settings.notification_secret

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 09:00:00

Every value already stored is encrypted under the active key of the keyring that store.migrate
hands over in the Alembic config's attributes (or, run otherwise, the one the environment
configures: store.keys). The downgrade decrypts them back.
"""

import warnings
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import context, op

from store.crypto import Keyring
from store.keys import configured_keyring, decrypt_in_place, encrypt_in_place, write_canary

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SECRETS: dict[str, tuple[str, tuple[str, ...]]] = {
    "webhooks": ("id", ("secret", "previous_secret", "auth")),
    "workspace_settings": ("workspace_id", ("notification_secret",)),
}
"""The secret columns at this revision: table -> (primary key, columns)."""
WERE_SHORT = {
    "webhooks": (("secret", False), ("previous_secret", True)),
    "workspace_settings": (("notification_secret", False),),
}
"""The columns that were VARCHAR(200) before (name, nullable): Text now, as a sealed value is longer."""


def alter_types(type_: sa.types.TypeEngine[str], was: sa.types.TypeEngine[str]) -> None:
    for table, columns in WERE_SHORT.items():
        with warnings.catch_warnings():
            # The expression index the reflection skips is made again below.
            warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based index")
            with op.batch_alter_table(table, schema=None) as batch_op:
                for name, nullable in columns:
                    batch_op.alter_column(name, type_=type_, existing_type=was, existing_nullable=nullable)
    if op.get_bind().dialect.name == "sqlite":
        # The batch mode rebuilt the table, and with it only the indexes it can reflect, which
        # leaves out this expression index (0002): made again.
        op.create_index(
            "uq_webhooks_folder_name",
            "webhooks",
            ["workspace_id", sa.text("coalesce(folder_id, '')"), sa.text("lower(name)")],
            unique=True,
        )


def keyring() -> Keyring:
    given = context.config.attributes.get("secrets_keyring")
    if isinstance(given, Keyring):
        return given
    return configured_keyring(op.get_bind().engine.url.render_as_string(hide_password=False))


def upgrade() -> None:
    ring = keyring()  # first: without a key, nothing changes
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        # The batch mode copies each table: the copy's old pages are zeroed as they are freed, and
        # store.migrate rewrites the file afterwards.
        op.execute("PRAGMA secure_delete = ON")
        context.config.attributes["scrub_sqlite"] = True
    op.create_table(
        "secret_keys",
        sa.Column("key_id", sa.String(200), nullable=False),
        sa.Column("canary", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key_id"),
    )
    alter_types(sa.Text(), sqlmodel.sql.sqltypes.AutoString(length=200))
    encrypt_in_place(bind, ring, SECRETS)
    write_canary(bind, ring)


def downgrade() -> None:
    ring = keyring()
    decrypt_in_place(op.get_bind(), ring, SECRETS)
    alter_types(sqlmodel.sql.sqltypes.AutoString(length=200), sa.Text())
    op.drop_table("secret_keys")
