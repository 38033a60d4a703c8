"""contacts CRM: owner, company link, notes, timeline, full-text search

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 17:00:00

SQLite: ``contacts_fts`` is an FTS5 index over ``contacts.search_text`` and
``contacts.notes_text`` (external content, kept in step by triggers).
PostgreSQL: a GIN index over the ``simple`` tsvector of the same columns.
Neither is in the models; ``kmdav.migrate.include_name`` hides them from
the schema comparison.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

SQLITE_FTS = (
    "CREATE VIRTUAL TABLE contacts_fts USING fts5(search_text, notes_text, "
    "content='contacts', content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER contacts_fts_insert AFTER INSERT ON contacts BEGIN "
    "INSERT INTO contacts_fts(rowid, search_text, notes_text) "
    "VALUES (new.id, new.search_text, new.notes_text); END",
    "CREATE TRIGGER contacts_fts_delete AFTER DELETE ON contacts BEGIN "
    "INSERT INTO contacts_fts(contacts_fts, rowid, search_text, notes_text) "
    "VALUES ('delete', old.id, old.search_text, old.notes_text); END",
    "CREATE TRIGGER contacts_fts_update AFTER UPDATE OF search_text, notes_text ON contacts "
    "BEGIN INSERT INTO contacts_fts(contacts_fts, rowid, search_text, notes_text) "
    "VALUES ('delete', old.id, old.search_text, old.notes_text); "
    "INSERT INTO contacts_fts(rowid, search_text, notes_text) "
    "VALUES (new.id, new.search_text, new.notes_text); END",
    "INSERT INTO contacts_fts(contacts_fts) VALUES ('rebuild')",
)
POSTGRES_FTS = (
    "CREATE INDEX ix_contacts_fulltext ON contacts USING gin "
    "(to_tsvector('simple', search_text || ' ' || notes_text))",
)


def upgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(
            sa.Column("company_uid", sa.String(255), nullable=False, server_default="")
        )
        batch.add_column(sa.Column("owner_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("search_text", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("notes_text", sa.Text(), nullable=False, server_default=""))
        batch.create_index(batch.f("ix_contacts_company_uid"), ["company_uid"])
        batch.create_index(batch.f("ix_contacts_owner_id"), ["owner_id"])
        batch.create_foreign_key(
            batch.f("fk_contacts_owner_id_users"),
            "users",
            ["owner_id"],
            ["id"],
            ondelete="SET NULL",
        )
    with op.batch_alter_table("contacts") as batch:
        for name in ("company_uid", "search_text", "notes_text"):
            batch.alter_column(name, server_default=None)
    op.create_table(
        "contact_notes",
        sa.Column("id", BigId, nullable=False),
        sa.Column("contact_id", BigId, nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("author_name", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["users.id"],
            name=op.f("fk_contact_notes_author_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_contact_notes_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_notes")),
    )
    op.create_index(op.f("ix_contact_notes_contact_id"), "contact_notes", ["contact_id"])
    op.create_table(
        "contact_events",
        sa.Column("id", BigId, nullable=False),
        sa.Column("contact_id", BigId, nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_name", sa.String(200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("ref", sa.String(255), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["users.id"],
            name=op.f("fk_contact_events_actor_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_contact_events_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_events")),
    )
    op.create_index(op.f("ix_contact_events_contact_id"), "contact_events", ["contact_id"])
    statements = SQLITE_FTS if op.get_bind().dialect.name == "sqlite" else POSTGRES_FTS
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS contacts_fts_{trigger}")
        op.execute("DROP TABLE IF EXISTS contacts_fts")
    else:
        op.execute("DROP INDEX IF EXISTS ix_contacts_fulltext")
    op.drop_index(op.f("ix_contact_events_contact_id"), table_name="contact_events")
    op.drop_table("contact_events")
    op.drop_index(op.f("ix_contact_notes_contact_id"), table_name="contact_notes")
    op.drop_table("contact_notes")
    with op.batch_alter_table("contacts") as batch:
        batch.drop_constraint(batch.f("fk_contacts_owner_id_users"), type_="foreignkey")
        batch.drop_index(batch.f("ix_contacts_owner_id"))
        batch.drop_index(batch.f("ix_contacts_company_uid"))
        for name in ("notes_text", "search_text", "owner_id", "company_uid"):
            batch.drop_column(name)
