"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-23 11:55:36.215432
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "custom_field_definitions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("field_type", sa.String(length=16), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("applies_to", sa.String(length=16), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_custom_field_definitions")),
        sa.UniqueConstraint("key", name=op.f("uq_custom_field_definitions_key")),
    )
    op.create_table(
        "groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["groups.id"],
            name=op.f("fk_groups_parent_id_groups"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_groups")),
        sa.UniqueConstraint("name", name=op.f("uq_groups_name")),
    )
    with op.batch_alter_table("groups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_groups_parent_id"), ["parent_id"], unique=False)

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "app_passwords",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("lookup", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_app_passwords_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_passwords")),
    )
    with op.batch_alter_table("app_passwords", schema=None) as batch_op:
        batch_op.create_index("ix_app_passwords_user_lookup", ["user_id", "lookup"], unique=False)

    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_name", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("remote_addr", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("object_type", sa.String(length=64), nullable=False),
        sa.Column("object_id", sa.String(length=200), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["users.id"],
            name=op.f("fk_audit_log_actor_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_action"), ["action"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_log_actor_id"), ["actor_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_log_at"), ["at"], unique=False)

    op.create_table(
        "dav_collections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=1024), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("tag", sa.String(length=16), nullable=False),
        sa.Column("props", sa.JSON(), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("sync_key", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_dav_collections_owner_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dav_collections")),
        sa.UniqueConstraint("path", name=op.f("uq_dav_collections_path")),
    )
    with op.batch_alter_table("dav_collections", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dav_collections_owner_id"), ["owner_id"], unique=False)

    op.create_table(
        "group_memberships",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["groups.id"],
            name=op.f("fk_group_memberships_group_id_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_group_memberships_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "group_id", name=op.f("pk_group_memberships")),
    )
    with op.batch_alter_table("group_memberships", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_group_memberships_group_id"), ["group_id"], unique=False
        )

    op.create_table(
        "permissions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("module", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.CheckConstraint(
            "(user_id IS NULL) <> (group_id IS NULL)",
            name=op.f("ck_permissions_exactly_one_subject"),
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["groups.id"],
            name=op.f("fk_permissions_group_id_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_permissions_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_permissions")),
        sa.UniqueConstraint(
            "group_id", "module", "action", name=op.f("uq_permissions_group_id_module_action")
        ),
        sa.UniqueConstraint(
            "user_id", "module", "action", name=op.f("uq_permissions_user_id_module_action")
        ),
    )
    op.create_table(
        "collection_shares",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("collection_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("access", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "access IN ('read', 'write')", name=op.f("ck_collection_shares_access_kind")
        ),
        sa.CheckConstraint(
            "(user_id IS NULL) <> (group_id IS NULL)",
            name=op.f("ck_collection_shares_exactly_one_subject"),
        ),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["dav_collections.id"],
            name=op.f("fk_collection_shares_collection_id_dav_collections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["groups.id"],
            name=op.f("fk_collection_shares_group_id_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_collection_shares_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collection_shares")),
        sa.UniqueConstraint(
            "collection_id", "group_id", name=op.f("uq_collection_shares_collection_id_group_id")
        ),
        sa.UniqueConstraint(
            "collection_id", "user_id", name=op.f("uq_collection_shares_collection_id_user_id")
        ),
    )
    with op.batch_alter_table("collection_shares", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_collection_shares_collection_id"), ["collection_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_collection_shares_group_id"), ["group_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_collection_shares_user_id"), ["user_id"], unique=False)

    op.create_table(
        "dav_changes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("collection_id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("href", sa.String(length=512), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["dav_collections.id"],
            name=op.f("fk_dav_changes_collection_id_dav_collections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dav_changes")),
        sa.UniqueConstraint(
            "collection_id", "revision", name=op.f("uq_dav_changes_collection_id_revision")
        ),
    )
    op.create_table(
        "dav_items",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("collection_id", sa.Integer(), nullable=False),
        sa.Column("href", sa.String(length=512), nullable=False),
        sa.Column("uid", sa.String(length=512), nullable=False),
        sa.Column("etag", sa.String(length=80), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("component", sa.String(length=16), nullable=False),
        sa.Column("dtstart", sa.BigInteger(), nullable=False),
        sa.Column("dtend", sa.BigInteger(), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["dav_collections.id"],
            name=op.f("fk_dav_items_collection_id_dav_collections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dav_items")),
        sa.UniqueConstraint("collection_id", "href", name=op.f("uq_dav_items_collection_id_href")),
        sa.UniqueConstraint("collection_id", "uid", name=op.f("uq_dav_items_collection_id_uid")),
    )
    with op.batch_alter_table("dav_items", schema=None) as batch_op:
        batch_op.create_index("ix_dav_items_revision", ["collection_id", "revision"], unique=False)
        batch_op.create_index(
            "ix_dav_items_time_range",
            ["collection_id", "component", "dtstart", "dtend"],
            unique=False,
        )

    op.create_table(
        "calendar_objects",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("item_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("collection_id", sa.Integer(), nullable=False),
        sa.Column("component", sa.String(length=16), nullable=False),
        sa.Column("uid", sa.String(length=512), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("start_utc", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_utc", sa.DateTime(timezone=True), nullable=True),
        sa.Column("all_day", sa.Boolean(), nullable=False),
        sa.Column("floating", sa.Boolean(), nullable=False),
        sa.Column("is_recurring", sa.Boolean(), nullable=False),
        sa.Column("recurrence_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("override_count", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("due_utc", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_utc", sa.DateTime(timezone=True), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("percent_complete", sa.Integer(), nullable=False),
        sa.Column("organizer", sa.String(length=320), nullable=False),
        sa.Column("attendees", sa.JSON(), nullable=False),
        sa.Column("related_to", sa.JSON(), nullable=False),
        sa.Column("categories", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["dav_collections.id"],
            name=op.f("fk_calendar_objects_collection_id_dav_collections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["dav_items.id"],
            name=op.f("fk_calendar_objects_item_id_dav_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_objects")),
        sa.UniqueConstraint("item_id", name=op.f("uq_calendar_objects_item_id")),
    )
    with op.batch_alter_table("calendar_objects", schema=None) as batch_op:
        batch_op.create_index(
            "ix_calendar_objects_span", ["collection_id", "start_utc"], unique=False
        )

    op.create_table(
        "contacts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("item_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("collection_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("formatted_name", sa.String(length=500), nullable=False),
        sa.Column("given_name", sa.String(length=200), nullable=False),
        sa.Column("family_name", sa.String(length=200), nullable=False),
        sa.Column("organization", sa.String(length=500), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("birthday", sa.String(length=40), nullable=False),
        sa.Column("categories", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("has_photo", sa.Boolean(), nullable=False),
        sa.Column("members", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["dav_collections.id"],
            name=op.f("fk_contacts_collection_id_dav_collections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["dav_items.id"],
            name=op.f("fk_contacts_item_id_dav_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts")),
        sa.UniqueConstraint("item_id", name=op.f("uq_contacts_item_id")),
    )
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_contacts_collection_id"), ["collection_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_contacts_family_name"), ["family_name"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_contacts_formatted_name"), ["formatted_name"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_contacts_organization"), ["organization"], unique=False
        )

    op.create_table(
        "contact_addresses",
        sa.Column(
            "contact_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("street", sa.String(length=500), nullable=False),
        sa.Column("locality", sa.String(length=200), nullable=False),
        sa.Column("region", sa.String(length=200), nullable=False),
        sa.Column("postal_code", sa.String(length=40), nullable=False),
        sa.Column("country", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_contact_addresses_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("contact_id", "position", name=op.f("pk_contact_addresses")),
    )
    with op.batch_alter_table("contact_addresses", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_contact_addresses_locality"), ["locality"], unique=False
        )

    op.create_table(
        "contact_emails",
        sa.Column(
            "contact_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("value", sa.String(length=320), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_contact_emails_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("contact_id", "position", name=op.f("pk_contact_emails")),
    )
    with op.batch_alter_table("contact_emails", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contact_emails_value"), ["value"], unique=False)

    op.create_table(
        "contact_phones",
        sa.Column(
            "contact_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("value", sa.String(length=100), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_contact_phones_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("contact_id", "position", name=op.f("pk_contact_phones")),
    )
    with op.batch_alter_table("contact_phones", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contact_phones_value"), ["value"], unique=False)

    op.create_table(
        "custom_field_values",
        sa.Column(
            "contact_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("field_id", sa.Integer(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("valid", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_custom_field_values_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["field_id"],
            ["custom_field_definitions.id"],
            name=op.f("fk_custom_field_values_field_id_custom_field_definitions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("contact_id", "field_id", name=op.f("pk_custom_field_values")),
    )
    with op.batch_alter_table("custom_field_values", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_custom_field_values_field_id"), ["field_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("custom_field_values", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_custom_field_values_field_id"))

    op.drop_table("custom_field_values")
    with op.batch_alter_table("contact_phones", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contact_phones_value"))

    op.drop_table("contact_phones")
    with op.batch_alter_table("contact_emails", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contact_emails_value"))

    op.drop_table("contact_emails")
    with op.batch_alter_table("contact_addresses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contact_addresses_locality"))

    op.drop_table("contact_addresses")
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contacts_organization"))
        batch_op.drop_index(batch_op.f("ix_contacts_formatted_name"))
        batch_op.drop_index(batch_op.f("ix_contacts_family_name"))
        batch_op.drop_index(batch_op.f("ix_contacts_collection_id"))

    op.drop_table("contacts")
    with op.batch_alter_table("calendar_objects", schema=None) as batch_op:
        batch_op.drop_index("ix_calendar_objects_span")

    op.drop_table("calendar_objects")
    with op.batch_alter_table("dav_items", schema=None) as batch_op:
        batch_op.drop_index("ix_dav_items_time_range")
        batch_op.drop_index("ix_dav_items_revision")

    op.drop_table("dav_items")
    op.drop_table("dav_changes")
    with op.batch_alter_table("collection_shares", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_collection_shares_user_id"))
        batch_op.drop_index(batch_op.f("ix_collection_shares_group_id"))
        batch_op.drop_index(batch_op.f("ix_collection_shares_collection_id"))

    op.drop_table("collection_shares")
    op.drop_table("permissions")
    with op.batch_alter_table("group_memberships", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_group_memberships_group_id"))

    op.drop_table("group_memberships")
    with op.batch_alter_table("dav_collections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dav_collections_owner_id"))

    op.drop_table("dav_collections")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_at"))
        batch_op.drop_index(batch_op.f("ix_audit_log_actor_id"))
        batch_op.drop_index(batch_op.f("ix_audit_log_action"))

    op.drop_table("audit_log")
    with op.batch_alter_table("app_passwords", schema=None) as batch_op:
        batch_op.drop_index("ix_app_passwords_user_lookup")

    op.drop_table("app_passwords")
    op.drop_table("users")
    with op.batch_alter_table("groups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_groups_parent_id"))

    op.drop_table("groups")
    op.drop_table("custom_field_definitions")
