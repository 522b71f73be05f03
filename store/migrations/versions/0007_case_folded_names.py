"""names unique whatever their case, in every alphabet: a name_key beside folder and webhook names

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 09:00:00

Uniqueness compared lower(name), which SQLite folds for ASCII only: "Ärzte" and "ärzte" could both
be stored. Each name's key (core.names.name_key) is computed here, in Python, so that both stores
get the same one, and the unique indexes move onto it. Names that already share a key in their
scope are all kept: the later ones (by creation) are renamed "name (2)", "name (3)"..., each
logged as a warning.
"""

import logging
from collections import defaultdict
from collections.abc import Container, Sequence

import sqlalchemy as sa
from alembic import op

from core.names import name_key

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("store.migrate")

MAX_NAME_LENGTH = 200
"""The name columns' length (VARCHAR(200)): a renamed name is cut to fit its suffix."""
FOLDERS = sa.table("folders", *(sa.column(c) for c in ("id", "workspace_id", "name", "name_key", "created_at")))
WEBHOOKS = sa.table(
    "webhooks", *(sa.column(c) for c in ("id", "workspace_id", "folder_id", "name", "name_key", "created_at"))
)


def upgrade() -> None:
    # Plain ADD COLUMNs, which SQLite does in place (see 0004 for why not a batch operation); a
    # NOT NULL column needs a default there, which the backfill replaces in every row.
    for table in ("folders", "webhooks"):
        op.add_column(table, sa.Column("name_key", sa.Text(), nullable=False, server_default=""))
    bind = op.get_bind()
    key_names(bind, FOLDERS, "folder")
    key_names(bind, WEBHOOKS, "webhook")
    if bind.dialect.name == "postgresql":
        # Without the default, a write that does not set the key (an older release still running
        # during the rollout, a hand-written INSERT) is refused rather than escaping uniqueness with
        # an empty key. SQLite keeps it: changing a default rebuilds the table there, and a SQLite
        # store's processes are one machine's, upgraded together.
        for table in ("folders", "webhooks"):
            op.alter_column(table, "name_key", server_default=None)
    op.drop_index("uq_webhooks_folder_name", table_name="webhooks")
    op.create_index(
        "uq_webhooks_folder_name_key",
        "webhooks",
        ["workspace_id", sa.text("coalesce(folder_id, '')"), "name_key"],
        unique=True,
    )
    # A constraint of the table: SQLite rebuilds folders to change it (it holds no expression index).
    with op.batch_alter_table("folders") as batch_op:
        batch_op.drop_constraint("uq_folders_workspace_name", type_="unique")
        batch_op.create_unique_constraint("uq_folders_workspace_name_key", ["workspace_id", "name_key"])


def key_names(bind: sa.Connection, table: sa.TableClause, kind: str) -> None:
    """Set every row's key; rename each row whose key an earlier row of its scope (the workspace,
    and a webhook's folder) holds, to the first free "name (n)"."""
    c = table.c
    folder_id = c.folder_id if "folder_id" in c else sa.null().label("folder_id")
    rows = bind.execute(sa.select(c.id, c.workspace_id, folder_id, c.name).order_by(c.created_at, c.id)).all()
    holders: dict[tuple[str, str | None], dict[str, tuple[str, str]]] = defaultdict(dict)
    """Per scope (workspace, folder), each key's first row: (id, name)."""
    for row in rows:
        holders[(row.workspace_id, row.folder_id)].setdefault(name_key(row.name), (row.id, row.name))
    changes = []
    for row in rows:
        held = holders[(row.workspace_id, row.folder_id)]
        name, key = row.name, name_key(row.name)
        first_id, first_name = held[key]
        if first_id != row.id:
            name, key = free_name(row.name, held)
            held[key] = (row.id, name)
            where = f"folder {row.folder_id}" if row.folder_id else "the workspace's top level"
            log.warning(
                "%s %s renamed %r to %r: %s %s (workspace %s, %s) is named %r, the same whatever the case,"
                " and names are unique there",
                kind, row.id, row.name, name, kind, first_id, row.workspace_id, where, first_name,
            )  # fmt: skip
        changes.append({"row_id": row.id, "new_name": name, "new_key": key})
    if changes:
        bind.execute(
            table.update()
            .where(c.id == sa.bindparam("row_id"))
            .values(name=sa.bindparam("new_name"), name_key=sa.bindparam("new_key")),
            changes,
        )


def free_name(name: str, taken: Container[str]) -> tuple[str, str]:
    """The first of "name (2)", "name (3)"... whose key is not taken, cut to fit; with its key."""
    n = 2
    while True:
        suffix = f" ({n})"
        candidate = name[: MAX_NAME_LENGTH - len(suffix)].rstrip() + suffix
        if name_key(candidate) not in taken:
            return candidate, name_key(candidate)
        n += 1


def downgrade() -> None:
    # Names unique under the new key are unique under the old index too (SQLite's lower() folds
    # less; PostgreSQL's lower() may fold a pair NFKC does not, "İ" and "i", which would fail here).
    with op.batch_alter_table("folders") as batch_op:
        batch_op.drop_constraint("uq_folders_workspace_name_key", type_="unique")
        batch_op.create_unique_constraint("uq_folders_workspace_name", ["workspace_id", "name"])
        batch_op.drop_column("name_key")
    op.drop_index("uq_webhooks_folder_name_key", table_name="webhooks")
    # With the expression index gone, SQLite's rebuild of webhooks loses no index.
    with op.batch_alter_table("webhooks") as batch_op:
        batch_op.drop_column("name_key")
    op.create_index(
        "uq_webhooks_folder_name",
        "webhooks",
        ["workspace_id", sa.text("coalesce(folder_id, '')"), sa.text("lower(name)")],
        unique=True,
    )
