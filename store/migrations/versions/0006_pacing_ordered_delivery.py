"""pacing: per-webhook rate limits, concurrency caps, ordered delivery per contact

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 09:00:00

"""

import warnings
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WEBHOOK_COLUMNS = ("ordered_on_failure", "ordered", "max_in_flight", "burst", "max_per_second")
DELIVERY_COLUMNS = ("received_at", "occurred_at", "contact_id", "held_reason")


def upgrade() -> None:
    # Plain ADD COLUMNs, which SQLite does in place (see 0004 for why not a batch operation).
    op.add_column("webhooks", sa.Column("max_per_second", sa.Float(), nullable=True))
    op.add_column("webhooks", sa.Column("burst", sa.Integer(), nullable=True))
    op.add_column("webhooks", sa.Column("max_in_flight", sa.Integer(), nullable=True))
    op.add_column("webhooks", sa.Column("ordered", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("webhooks", sa.Column("ordered_on_failure", sa.String(8), nullable=False, server_default="release"))
    op.add_column("deliveries", sa.Column("held_reason", sa.Text(), nullable=True))
    op.add_column("deliveries", sa.Column("contact_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True))
    op.add_column("deliveries", sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("deliveries", sa.Column("received_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_deliveries_contact_order", "deliveries", ["webhook_id", "contact_id", "occurred_at"])
    op.create_index("ix_deliveries_status", "deliveries", ["webhook_id", "status"])
    op.create_table(
        "webhook_pacing",
        sa.Column("webhook_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("next_slot", sa.DateTime(timezone=True), nullable=False),
        sa.Column("queue_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paused_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paused_reason", sa.Text(), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("webhook_id"),
    )
    op.create_table(
        "delivery_leases",
        sa.Column("delivery_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("webhook_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("delivery_id"),
    )
    op.create_index("ix_delivery_leases_webhook", "delivery_leases", ["webhook_id", "expires_at"])


def downgrade() -> None:
    op.drop_index("ix_delivery_leases_webhook", table_name="delivery_leases")
    op.drop_table("delivery_leases")
    op.drop_table("webhook_pacing")
    op.drop_index("ix_deliveries_status", table_name="deliveries")
    op.drop_index("ix_deliveries_contact_order", table_name="deliveries")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        for column in DELIVERY_COLUMNS:
            batch_op.drop_column(column)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based index")
        with op.batch_alter_table("webhooks", schema=None) as batch_op:
            for column in WEBHOOK_COLUMNS:
                batch_op.drop_column(column)
    if op.get_bind().dialect.name == "sqlite":  # the rebuilt table lost the expression index (0002)
        op.create_index(
            "uq_webhooks_folder_name",
            "webhooks",
            ["workspace_id", sa.text("coalesce(folder_id, '')"), sa.text("lower(name)")],
            unique=True,
        )
