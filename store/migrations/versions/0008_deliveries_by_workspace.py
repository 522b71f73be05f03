"""deliveries by workspace: a workspace's delivery log by status, newest first (its failed deliveries)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 12:00:00

"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_deliveries_workspace_status"
COLUMNS = ["workspace_id", "status", "created_at", "id"]


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # The ledger is the largest table and every attempt writes it: built concurrently, the
        # index does not hold deliveries back while it is made (which needs no transaction around it).
        with op.get_context().autocommit_block():
            # A build that failed or was cancelled leaves an invalid index of this name behind.
            op.drop_index(INDEX, table_name="deliveries", postgresql_concurrently=True, if_exists=True)
            op.create_index(INDEX, "deliveries", COLUMNS, postgresql_concurrently=True)
    else:
        op.create_index(INDEX, "deliveries", COLUMNS)


def downgrade() -> None:
    op.drop_index(INDEX, table_name="deliveries")
