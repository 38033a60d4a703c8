"""contact forms, consent texts and records, UID aliases of merged contacts

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-23 16:32:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "contact_forms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("thank_you_text", sa.Text(), nullable=False),
        sa.Column("redirect_url", sa.String(length=2000), nullable=False),
        sa.Column("notify_email", sa.Boolean(), nullable=False),
        sa.Column("notify_user_ids", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_contact_forms_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_forms")),
        sa.UniqueConstraint("public_id", name=op.f("uq_contact_forms_public_id")),
    )
    op.create_table(
        "contact_uid_aliases",
        sa.Column("old_uid", sa.String(length=500), nullable=False),
        sa.Column("survivor_uid", sa.String(length=500), nullable=False),
        sa.Column("merged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("merged_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["merged_by"],
            ["users.id"],
            name=op.f("fk_contact_uid_aliases_merged_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("old_uid", name=op.f("pk_contact_uid_aliases")),
    )
    with op.batch_alter_table("contact_uid_aliases", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_contact_uid_aliases_survivor_uid"), ["survivor_uid"], unique=False
        )

    op.create_table(
        "consent_texts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("form_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("consent_text", sa.Text(), nullable=False),
        sa.Column("privacy_url", sa.String(length=2000), nullable=False),
        sa.Column("privacy_text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["form_id"],
            ["contact_forms.id"],
            name=op.f("fk_consent_texts_form_id_contact_forms"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_texts")),
        sa.UniqueConstraint("form_id", "version", name=op.f("uq_consent_texts_form_id_version")),
    )
    op.create_table(
        "consent_records",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "contact_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("consent_text_id", sa.Integer(), nullable=False),
        sa.Column("form_id", sa.Integer(), nullable=False),
        sa.Column("given_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("page_url", sa.String(length=2000), nullable=False),
        sa.Column("remote_addr", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["consent_text_id"],
            ["consent_texts.id"],
            name=op.f("fk_consent_records_consent_text_id_consent_texts"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_consent_records_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["form_id"],
            ["contact_forms.id"],
            name=op.f("fk_consent_records_form_id_contact_forms"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_records")),
    )
    with op.batch_alter_table("consent_records", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_consent_records_consent_text_id"), ["consent_text_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_consent_records_contact_id"), ["contact_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("consent_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consent_records_contact_id"))
        batch_op.drop_index(batch_op.f("ix_consent_records_consent_text_id"))

    op.drop_table("consent_records")
    op.drop_table("consent_texts")
    with op.batch_alter_table("contact_uid_aliases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contact_uid_aliases_survivor_uid"))

    op.drop_table("contact_uid_aliases")
    op.drop_table("contact_forms")
