"""receivers: redirects, body templates, presets, authentication; the redirect chain in the ledger

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 05:40:00

"""

import warnings
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMNs, which SQLite does in place: a batch operation would rebuild the table from
    # its reflection, which cannot carry the expression index on webhook names (see 0002).
    op.add_column("webhooks", sa.Column("follow_redirects", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("webhooks", sa.Column("forward_credentials", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("webhooks", sa.Column("body_format", sa.String(16), nullable=False, server_default="standard"))
    op.add_column("webhooks", sa.Column("body_template", sa.Text(), nullable=True))
    op.add_column("webhooks", sa.Column("preset", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))
    op.add_column("webhooks", sa.Column("auth", sa.Text(), nullable=True))
    op.add_column("deliveries", sa.Column("redirects", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("redirects")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based index")
        with op.batch_alter_table("webhooks", schema=None) as batch_op:
            for column in ("auth", "preset", "body_template", "body_format", "forward_credentials", "follow_redirects"):
                batch_op.drop_column(column)
    if op.get_bind().dialect.name == "sqlite":  # the rebuilt table lost the expression index (0002)
        op.create_index(
            "uq_webhooks_folder_name",
            "webhooks",
            ["workspace_id", sa.text("coalesce(folder_id, '')"), sa.text("lower(name)")],
            unique=True,
        )
