"""All tables, importable from one place (Alembic reads ``Base.metadata``)."""

from kmdav.models.accounts import (
    AppPassword,
    Group,
    GroupMembership,
    Permission,
    RecoveryCode,
    User,
    UserModule,
)
from kmdav.models.audit import AuditEntry
from kmdav.models.base import Base, utcnow
from kmdav.models.calendar import CalendarObject
from kmdav.models.contacts import (
    Contact,
    ContactAddress,
    ContactEmail,
    ContactEvent,
    ContactNote,
    ContactPhone,
    CustomFieldDefinition,
    CustomFieldValue,
)
from kmdav.models.dav import CollectionShare, DavChange, DavCollection, DavItem
from kmdav.models.feeds import CalendarFeed
from kmdav.models.forms import ConsentRecord, ConsentText, ContactForm, ContactUidAlias
from kmdav.models.imports import ContactImport, ContactImportRow
from kmdav.models.jobs import Job

__all__ = [
    "AppPassword",
    "AuditEntry",
    "Base",
    "CalendarFeed",
    "CalendarObject",
    "CollectionShare",
    "ConsentRecord",
    "ConsentText",
    "Contact",
    "ContactAddress",
    "ContactEmail",
    "ContactEvent",
    "ContactForm",
    "ContactImport",
    "ContactImportRow",
    "ContactNote",
    "ContactPhone",
    "ContactUidAlias",
    "CustomFieldDefinition",
    "CustomFieldValue",
    "DavChange",
    "DavCollection",
    "DavItem",
    "Group",
    "GroupMembership",
    "Job",
    "Permission",
    "RecoveryCode",
    "User",
    "UserModule",
    "utcnow",
]
