"""Own fields ("eigene Felder"): definitions kept by admins.

Values live in the cards (``X-KMDAV-<KEY>`` and a visible form, see
:mod:`kmdav.contacts.cards`) and in ``custom_field_values`` (the projection).
Services flush and audit; the caller commits.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kmdav import audit
from kmdav.contacts.fieldtypes import (
    APPLIES_TO,
    FIELD_TYPES,
    RESERVED_KEYS,
    FieldDef,
    check_key,
    is_valid,
    normalise,
    visible_text,
)
from kmdav.errors import NotFoundError, ValidationError
from kmdav.models import CustomFieldDefinition

__all__ = [
    "APPLIES_TO",
    "FIELD_TYPES",
    "RESERVED_KEYS",
    "FieldDef",
    "check_key",
    "create_field",
    "definitions",
    "delete_field",
    "is_valid",
    "move_field",
    "normalise",
    "update_field",
    "visible_text",
]

MAX_OPTIONS = 200


def _as_def(row: CustomFieldDefinition) -> FieldDef:
    return FieldDef(
        key=row.key,
        label=row.label,
        field_type=row.field_type,
        required=row.required,
        options=tuple(row.options or ()),
        applies_to=row.applies_to,
    )


def definitions(session: Session) -> list[FieldDef]:
    """Every own field in display order."""
    rows = session.scalars(
        select(CustomFieldDefinition).order_by(
            CustomFieldDefinition.position, CustomFieldDefinition.id
        )
    )
    return [_as_def(row) for row in rows]


def field_ids(session: Session) -> dict[str, int]:
    """Definition ids by key."""
    return dict(session.execute(select(CustomFieldDefinition.key, CustomFieldDefinition.id)).all())


def _row(session: Session, key: str) -> CustomFieldDefinition:
    row = session.scalars(
        select(CustomFieldDefinition).where(CustomFieldDefinition.key == key.upper())
    ).one_or_none()
    if row is None:
        raise NotFoundError("there is no own field %(key)r", key=key)
    return row


def _checked(
    label: str, field_type: str, options: Sequence[str], applies_to: str
) -> tuple[str, list[str]]:
    label = label.strip()
    if not label or len(label) > 200 or any(c in label for c in ":\r\n"):
        raise ValidationError(
            "a label is 1 to 200 characters on one line, without a colon", field="label"
        )
    if field_type not in FIELD_TYPES:
        raise ValidationError("unknown field type %(type)r", field="field_type", type=field_type)
    if applies_to not in APPLIES_TO:
        raise ValidationError("unknown choice %(value)r", field="applies_to", value=applies_to)
    cleaned: list[str] = []
    for option in options:
        text = option.strip()
        if text and text not in cleaned:
            cleaned.append(text)
    if field_type == "select" and not cleaned:
        raise ValidationError("a select list needs at least one option", field="options")
    if len(cleaned) > MAX_OPTIONS or any(len(o) > 200 for o in cleaned):
        raise ValidationError("too many or too long options", field="options")
    return label, cleaned if field_type == "select" else []


def _label_taken(session: Session, label: str, except_key: str = "") -> None:
    taken = session.scalar(
        select(CustomFieldDefinition.key).where(
            func.lower(CustomFieldDefinition.label) == label.lower(),
            CustomFieldDefinition.key != except_key,
        )
    )
    if taken is not None:
        # The visible forms on phones are matched by label.
        raise ValidationError(
            "another own field is already labelled %(label)r", field="label", label=label
        )


def create_field(
    session: Session,
    actor: audit.Actor,
    *,
    key: str,
    label: str,
    field_type: str,
    required: bool = False,
    options: Sequence[str] = (),
    applies_to: str = "both",
) -> FieldDef:
    key = check_key(key)
    label, cleaned = _checked(label, field_type, options, applies_to)
    if session.scalar(select(CustomFieldDefinition.id).where(CustomFieldDefinition.key == key)):
        raise ValidationError("an own field with the key %(key)s exists", field="key", key=key)
    _label_taken(session, label)
    position = session.scalar(select(func.coalesce(func.max(CustomFieldDefinition.position), 0)))
    row = CustomFieldDefinition(
        key=key,
        label=label,
        field_type=field_type,
        required=required,
        options=cleaned,
        applies_to=applies_to,
        position=(position or 0) + 1,
        extra={},
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor,
        "contact_field.create",
        "contact_field",
        key,
        {"label": label, "type": field_type},
    )
    return _as_def(row)


def update_field(
    session: Session,
    actor: audit.Actor,
    key: str,
    *,
    label: str,
    required: bool,
    options: Sequence[str] = (),
    applies_to: str = "both",
) -> FieldDef:
    """Change a field; key and type stay (stored values are text of that type)."""
    row = _row(session, key)
    label, cleaned = _checked(label, row.field_type, options, applies_to)
    _label_taken(session, label, row.key)
    row.label = label
    row.required = required
    row.options = cleaned
    row.applies_to = applies_to
    session.flush()
    audit.record(session, actor, "contact_field.update", "contact_field", row.key, {"label": label})
    return _as_def(row)


def move_field(session: Session, actor: audit.Actor, key: str, *, offset: int) -> None:
    """Move a field up (-1) or down (+1) in the display order."""
    rows = list(
        session.scalars(
            select(CustomFieldDefinition).order_by(
                CustomFieldDefinition.position, CustomFieldDefinition.id
            )
        )
    )
    index = next((i for i, r in enumerate(rows) if r.key == key.upper()), None)
    if index is None:
        raise NotFoundError("there is no own field %(key)r", key=key)
    target = index + offset
    if 0 <= target < len(rows):
        rows[index], rows[target] = rows[target], rows[index]
    for position, row in enumerate(rows, start=1):
        row.position = position
    session.flush()
    audit.record(session, actor, "contact_field.move", "contact_field", key.upper(), {})


def delete_field(session: Session, actor: audit.Actor, key: str) -> None:
    """Delete a definition and its projected values; cards keep their lines
    (a field defined again with the same key finds its values there)."""
    row = _row(session, key)
    session.delete(row)
    session.flush()
    audit.record(session, actor, "contact_field.delete", "contact_field", row.key, {})
