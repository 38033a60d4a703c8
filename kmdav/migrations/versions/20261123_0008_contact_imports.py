"""contact_imports and contact_import_rows: the import assistant's files and ledger

Revision ID: 0008
Revises: 0007 (0006 as handed out; chained after the contacts core merged in)
Create Date: 2026-11-23 16:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LOWER_INDEXES = (("ix_lower_contact_emails_value", "contact_emails", "lower(value)"),)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "contact_imports",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("stored_name", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("encoding", sa.String(length=16), nullable=False),
        sa.Column("delimiter", sa.String(length=4), nullable=False),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("mapping", sa.JSON(), nullable=False),
        sa.Column("duplicate_mode", sa.String(length=8), nullable=False),
        sa.Column("match_on", sa.String(length=16), nullable=False),
        sa.Column("collection_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("job_id", BIG_ID, nullable=True),
        sa.Column("undo_job_id", BIG_ID, nullable=True),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["dav_collections.id"],
            name=op.f("fk_contact_imports_collection_id_dav_collections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_contact_imports_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["jobs.id"],
            name=op.f("fk_contact_imports_job_id_jobs"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["undo_job_id"],
            ["jobs.id"],
            name=op.f("fk_contact_imports_undo_job_id_jobs"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_imports")),
        sa.UniqueConstraint("stored_name", name=op.f("uq_contact_imports_stored_name")),
    )
    op.create_index(op.f("ix_contact_imports_collection_id"), "contact_imports", ["collection_id"])
    op.create_index(op.f("ix_contact_imports_created_by"), "contact_imports", ["created_by"])
    op.create_table(
        "contact_import_rows",
        sa.Column("import_id", BIG_ID, nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=10), nullable=False),
        sa.Column("href", sa.String(length=512), nullable=False),
        sa.Column("etag", sa.String(length=80), nullable=False),
        sa.Column("previous_body", sa.Text(), nullable=True),
        sa.Column("problems", sa.JSON(), nullable=False),
        sa.Column("cells", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["contact_imports.id"],
            name=op.f("fk_contact_import_rows_import_id_contact_imports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("import_id", "row_number", name=op.f("pk_contact_import_rows")),
    )
    # An expression index for the case-insensitive duplicate look-up by
    # e-mail (the import's and contacts.service.find_matches): without it
    # each batch of an import reads every contact of the book.  (By name,
    # 0007's ix_contacts_sort_name on lower(formatted_name) serves.)  Not in
    # the models (kmdav.migrate.UNMODELLED_PREFIXES), like the search indexes.
    for name, table, expression in LOWER_INDEXES:
        op.execute(f"CREATE INDEX {name} ON {table} ({expression})")


def downgrade() -> None:
    for name, _, _ in LOWER_INDEXES:
        op.execute(f"DROP INDEX {name}")
    op.drop_table("contact_import_rows")
    op.drop_index(op.f("ix_contact_imports_created_by"), table_name="contact_imports")
    op.drop_index(op.f("ix_contact_imports_collection_id"), table_name="contact_imports")
    op.drop_table("contact_imports")
