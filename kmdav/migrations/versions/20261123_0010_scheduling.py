"""Scheduling: users.email_reminders; schedule inbox/outbox for every user

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23 17:00:00

RFC 6638 gives every calendar user a schedule inbox and outbox; new users
get them with their other default collections (kmdav.dav.provisioning),
existing users here.  A user who already has a collection of that name
keeps it.
"""

import secrets
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BOXES = (("inbox", "VCALENDAR", "Inbox"), ("outbox", "", "Outbox"))


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("email_reminders", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    connection = op.get_bind()
    users = sa.table("users", sa.column("id"), sa.column("username"))
    collections = sa.table(
        "dav_collections",
        sa.column("id"),
        sa.column("path"),
        sa.column("owner_id"),
        sa.column("tag"),
        sa.column("props", sa.JSON),
        sa.column("revision"),
        sa.column("sync_key"),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("modified_at", sa.DateTime(timezone=True)),
    )
    now = datetime.now(UTC)
    taken = set(connection.execute(sa.select(collections.c.path)).scalars())
    rows = []
    for user_id, username in connection.execute(sa.select(users.c.id, users.c.username)):
        if username not in taken:
            continue  # no home yet: provisioning makes everything
        for name, tag, label in _BOXES:
            path = f"{username}/{name}"
            if path in taken:
                continue
            props = {"D:displayname": label}
            if tag:
                props["tag"] = tag
            rows.append(
                {
                    "path": path,
                    "owner_id": user_id,
                    "tag": tag,
                    "props": props,
                    "revision": 0,
                    "sync_key": secrets.token_hex(8),
                    "created_at": now,
                    "modified_at": now,
                }
            )
    for row in rows:
        connection.execute(collections.insert().values(**row))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("email_reminders")
