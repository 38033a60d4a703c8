"""dav_items.time_ranges: the stored time-range record of each body

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-23 18:20:00

Existing rows keep NULL: the record is computed by the DAV storage on the
first calendar-query that needs it (as before this column) and stored with
the next PUT of the body.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("dav_items") as batch:
        batch.add_column(sa.Column("time_ranges", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dav_items") as batch:
        batch.drop_column("time_ranges")
