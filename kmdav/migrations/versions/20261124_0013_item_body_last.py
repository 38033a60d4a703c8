"""dav_items.body becomes the table's last column on SQLite

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-24 03:10:00

SQLite stores a row's columns in declaration order and spills a long row
into a chain of overflow pages; reading a column that comes after a 5 MB
body walks that whole chain.  With ``body`` in the middle, a PROPFIND for
ETags (which reads ``modified_at``) over 200 cards with 5 MB photos took
180 ms in SQLite alone instead of 0.5 ms.  As the last column, the body is
read only by the queries that ask for it.

Done without rebuilding the table: dropping ``dav_items`` to recreate it
would cascade to the contacts and calendar objects referencing it while
foreign keys are on.  A new column is appended and takes each body while
the old one is emptied in the same statement (so the file does not grow
by a second copy of every body: 8 s for 1 GB of bodies here), the old
column is dropped and the new one renamed.  The ``DEFAULT ''`` an appended
NOT NULL column needs stays in the schema (every write sets the body).

PostgreSQL keeps long values out of the row (TOAST), so column order does
not matter there and nothing changes.  The downgrade leaves the order.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("ALTER TABLE dav_items ADD COLUMN body_last TEXT NOT NULL DEFAULT ''")
    # Emptied in the same statement, so the old body's pages are reused at once.
    op.execute("UPDATE dav_items SET body_last = body, body = ''")
    op.execute("ALTER TABLE dav_items DROP COLUMN body")
    op.execute("ALTER TABLE dav_items RENAME COLUMN body_last TO body")


def downgrade() -> None:
    """Column order carries no meaning to undo."""
