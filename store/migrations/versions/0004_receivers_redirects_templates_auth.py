"""receivers: redirects, body templates, presets, authentication; the redirect chain in the ledger

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 05:40:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webhooks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("follow_redirects", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("forward_credentials", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("body_format", sa.String(16), nullable=False, server_default="standard"))
        batch_op.add_column(sa.Column("body_template", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("preset", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))
        batch_op.add_column(sa.Column("auth", sa.Text(), nullable=True))
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("redirects", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("redirects")
    with op.batch_alter_table("webhooks", schema=None) as batch_op:
        for column in ("auth", "preset", "body_template", "body_format", "forward_credentials", "follow_redirects"):
            batch_op.drop_column(column)
