"""Own fields as values: definitions and value normalisation (pure, no I/O).

An own field's value is text everywhere (database, vCard): numbers as
written with a ``.`` decimal point, dates as ISO ``YYYY-MM-DD``, a select's
option exactly as defined, a checkbox ``1`` or ``0``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from kmdav.errors import ValidationError
from kmdav.i18n import N_

FIELD_TYPES: dict[str, str] = {
    "text": N_("Text"),
    "number": N_("Number"),
    "date": N_("Date"),
    "select": N_("Select list"),
    "checkbox": N_("Checkbox"),
}
APPLIES_TO: dict[str, str] = {
    "both": N_("Persons and companies"),
    "person": N_("Persons"),
    "company": N_("Companies"),
}

KEY_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9-]{0,47}$")
#: Keys kmdav uses itself as ``X-KMDAV-<KEY>``.
RESERVED_KEYS = frozenset({"COMPANY-UID", "OWNER", "ID", "KIND", "FIELDS", "VERSION"})

_TRUE = frozenset({"1", "yes", "ja", "true", "x", "on", "y", "j"})
_FALSE = frozenset({"0", "no", "nein", "false", "off", "n", ""})


@dataclass(frozen=True)
class FieldDef:
    """An own field as the mapping and the forms need it."""

    key: str
    label: str
    field_type: str = "text"
    required: bool = False
    options: tuple[str, ...] = ()
    applies_to: str = "both"

    def applies(self, kind: str) -> bool:
        return self.applies_to in ("both", kind)


def check_key(key: str) -> str:
    """The key upper-cased, or ValidationError."""
    value = key.strip().upper()
    if not KEY_PATTERN.match(value):
        raise ValidationError(
            "a key consists of the letters A-Z, digits and hyphens (at most 48), not %(key)r",
            field="key",
            key=key,
        )
    if value in RESERVED_KEYS:
        raise ValidationError("the key %(key)s is reserved by kmdav", field="key", key=value)
    return value


def normalise(field: FieldDef, raw: str) -> str:  # noqa: PLR0911 (one return per type)
    """The stored form of ``raw`` for ``field``; "" means no value."""
    text = raw.strip()
    if field.field_type == "checkbox":
        lowered = text.lower()
        if lowered in _TRUE:
            return "1"
        if lowered in _FALSE:
            return "0" if text else ""
        raise ValidationError(
            "%(label)s: tick the box or leave it empty (yes/no), not %(value)r",
            field=field.key,
            label=field.label,
            value=raw,
        )
    if not text:
        return ""
    if field.field_type == "number":
        try:
            number = Decimal(text.replace(" ", "").replace(",", "."))
        except InvalidOperation:
            number = Decimal("NaN")
        if not number.is_finite():
            raise ValidationError(
                "%(label)s: %(value)r is not a number",
                field=field.key,
                label=field.label,
                value=raw,
            )
        return format(number, "f")
    if field.field_type == "date":
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            raise ValidationError(
                "%(label)s: %(value)r is not a date (YYYY-MM-DD)",
                field=field.key,
                label=field.label,
                value=raw,
            ) from None
    if field.field_type == "select":
        for option in field.options:
            if option.casefold() == text.casefold():
                return option
        raise ValidationError(
            "%(label)s: %(value)r is not one of the options",
            field=field.key,
            label=field.label,
            value=raw,
        )
    return raw.replace("\r\n", "\n").strip()


def is_valid(field: FieldDef, raw: str) -> bool:
    try:
        normalise(field, raw)
    except ValidationError:
        return False
    return True


def visible_text(field: FieldDef, value: str) -> str:
    """How a value reads in the NOTE block (one line)."""
    if field.field_type == "checkbox":
        return {"1": "yes", "0": "no"}.get(value, value)
    return " ".join(value.split("\n")).strip()
