"""What a submission of a public contact form does.

:func:`check` validates every field the form asks for and collects one
clear message per field (nothing is stored when any fails).  :func:`accept`
then, in the caller's transaction: finds the contact by e-mail address
(:func:`kmdav.contacts.service.find_matches`) and *patches* it with what
was sent (other data stays; e-mails, phones and addresses are added, not
replaced) or creates a new one, through the contacts service and so the
one DAV write path; records consent (the exact text version, when, from
which page and client address); adds a timeline event; and queues one
e-mail per assigned user (the outbox job, keyed by the consent record, so
a retry never mails twice).

Data economy: only the fields the form asks for are read; the free
message goes into the timeline event, not into the card.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from kmdav import audit, outbox
from kmdav.contacts import access, crm, fields, service
from kmdav.contacts.cards import ContactDraft
from kmdav.contacts.duplicates import union
from kmdav.dav.vcard import LabeledValue, PostalAddress
from kmdav.errors import ValidationError
from kmdav.forms import builder
from kmdav.mail import check_address
from kmdav.models import ConsentRecord, ContactForm, User

CONSENT_FIELD = "consent"
_PHONE = re.compile(r"^\+?[0-9 ()./-]{5,40}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
ADDRESS_KEYS = ("street", "postal_code", "locality", "country")


@dataclass(frozen=True)
class Asked:
    """One field of a form as the public page shows it."""

    key: str
    label: str
    input_type: str
    required: bool
    max_length: int
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class Accepted:
    contact_id: int
    created: bool
    consent_record_id: int


def asked_fields(form: ContactForm, own: Sequence[fields.FieldDef]) -> list[Asked]:
    """The form's fields in order (an own field deleted since is left out)."""
    by_key = {f.key: f for f in own}
    asked = []
    for choice in builder.choices(form):
        if choice.key in builder.STANDARD:
            std = builder.STANDARD[choice.key]
            asked.append(
                Asked(choice.key, std.label, std.input_type, choice.required, std.max_length)
            )
            continue
        own_def = by_key.get(choice.key.removeprefix(builder.CUSTOM_PREFIX))
        if own_def is None:
            continue
        input_type = {"date": "date", "select": "select", "checkbox": "checkbox"}.get(
            own_def.field_type, "text"
        )
        asked.append(
            Asked(choice.key, own_def.label, input_type, choice.required, 1000, own_def.options)
        )
    return asked


def _check_one(asked: Asked, raw: str, own: Mapping[str, fields.FieldDef]) -> str:
    value = _CONTROL.sub("", raw).strip()
    if asked.input_type != "textarea":
        value = " ".join(value.split())
    if not value or (asked.input_type == "checkbox" and value.lower() in ("", "0", "off")):
        if asked.required:
            raise ValidationError("Please fill in this field.", field=asked.key)
        return ""
    if len(value) > asked.max_length:
        raise ValidationError(
            "This is too long (at most %(max)s characters).", field=asked.key, max=asked.max_length
        )
    if asked.key == "email":
        try:
            return check_address(value, asked.key).lower()
        except ValidationError:
            raise ValidationError("Please enter a valid e-mail address.", field=asked.key) from None
    if asked.key == "phone" and (not _PHONE.match(value) or sum(ch.isdigit() for ch in value) < 5):
        raise ValidationError("Please enter a valid phone number.", field=asked.key)
    if asked.key == "birthday":
        try:
            born = date.fromisoformat(value)
        except ValueError:
            raise ValidationError("Please enter a date (YYYY-MM-DD).", field=asked.key) from None
        if born > date.today() or born.year < 1900:
            raise ValidationError("Please enter a real birthday.", field=asked.key)
        return born.isoformat()
    if asked.key.startswith(builder.CUSTOM_PREFIX):
        own_def = own[asked.key.removeprefix(builder.CUSTOM_PREFIX)]
        try:
            return fields.normalise(own_def, value)
        except ValidationError as error:
            raise ValidationError(error.message, field=asked.key, **error.params) from None
    return value


def check(
    form: ContactForm,
    own: Sequence[fields.FieldDef],
    sent: Mapping[str, str],
    consent: bool,
) -> tuple[dict[str, str], dict[str, ValidationError]]:
    """(clean values by field key, errors by field key); no errors: valid."""
    by_key = {f.key: f for f in own}
    values: dict[str, str] = {}
    errors: dict[str, ValidationError] = {}
    for asked in asked_fields(form, own):
        try:
            values[asked.key] = _check_one(asked, sent.get(asked.key, ""), by_key)
        except ValidationError as error:
            errors[asked.key] = error
    if not consent:
        errors[CONSENT_FIELD] = ValidationError(
            "Please agree to the consent text to send the form.", field=CONSENT_FIELD
        )
    return values, errors


def draft_of(values: Mapping[str, str]) -> ContactDraft:
    """What was sent as a contact (only the fields the form asked for)."""
    address = PostalAddress(
        label="work" if values.get("company") else "home",
        street=values.get("street", ""),
        locality=values.get("locality", ""),
        postal_code=values.get("postal_code", ""),
        country=values.get("country", ""),
    )
    custom = {
        key.removeprefix(builder.CUSTOM_PREFIX): value
        for key, value in values.items()
        if key.startswith(builder.CUSTOM_PREFIX) and value
    }
    family = values.get("family_name", "")
    if not (family or values.get("given_name")):
        # A card needs a name; the address (or number) stands in until
        # someone knows better.
        family = values.get("email") or values.get("phone") or values.get("company", "")
    return ContactDraft(
        given_name=values.get("given_name", ""),
        family_name=family,
        company=values.get("company", ""),
        title=values.get("title", ""),
        emails=(LabeledValue(values["email"]),) if values.get("email") else (),
        phones=(LabeledValue(values["phone"]),) if values.get("phone") else (),
        addresses=(address,) if any(values.get(k) for k in ADDRESS_KEYS) else (),
        birthday=values.get("birthday", ""),
        custom=custom,
    )


def overlay(existing: ContactDraft, sent: ContactDraft) -> ContactDraft:
    """``existing`` with what was sent: single values replaced where sent,
    e-mails, phones and addresses added when new, everything else kept."""
    return replace(
        existing,
        given_name=sent.given_name or existing.given_name,
        family_name=sent.family_name or existing.family_name,
        company=sent.company or existing.company,
        title=sent.title or existing.title,
        birthday=sent.birthday or existing.birthday,
        emails=union(existing.emails, sent.emails),
        phones=union(existing.phones, sent.phones),
        addresses=union(existing.addresses, sent.addresses),
        custom={**existing.custom, **sent.custom},
    )


def acting_user(session: Session, form: ContactForm) -> User:
    """Whom a submission acts for: the form's creator while active, else the
    first active administrator (the contacts service needs a user)."""
    creator = session.get(User, form.created_by) if form.created_by is not None else None
    if creator is not None and creator.is_active:
        return creator
    admin = session.scalar(
        select(User).where(User.is_admin.is_(True), User.is_active.is_(True)).order_by(User.id)
    )
    if admin is None:
        raise ValidationError("This form cannot take submissions at the moment.")
    return admin


def accept(
    session: Session,
    form: ContactForm,
    values: Mapping[str, str],
    *,
    page_url: str,
    remote_addr: str,
    base_url: str,
    company_book: str = access.DEFAULT_COMPANY_BOOK,
) -> Accepted:
    """Store a checked submission (see the module docstring)."""
    via = audit.Actor(name=f"form:{form.public_id}", source="form", remote_addr=remote_addr)
    user = acting_user(session, form)
    sent = draft_of(values)
    email = values.get("email", "")
    book = access.company_book_id(session, company_book)
    matches = (
        service.find_matches(session, email=email, collection_ids=[book])
        if email and book is not None
        else []
    )
    if matches:
        contact_id = matches[0]
        current = service.get_contact(session, user, contact_id, company_book=company_book)
        service.update_contact(
            session,
            actor=user,
            contact_id=contact_id,
            draft=overlay(current.draft, sent),
            etag=current.etag,
            company_book=company_book,
            via=via,
            require_fields=False,
        )
    else:
        owner_id = next(iter(form.notify_user_ids), None)
        owner = session.get(User, owner_id) if owner_id is not None else None
        contact_id = service.create_contact(
            session,
            actor=user,
            draft=sent,
            owner_id=owner.id if owner is not None else None,
            company_book=company_book,
            via=via,
            require_fields=False,
        )
    consent = builder.current_consent(session, form.id)
    assert consent is not None  # every saved form has one
    record = ConsentRecord(
        contact_id=contact_id,
        consent_text_id=consent.id,
        form_id=form.id,
        page_url=page_url[:2000],
        remote_addr=remote_addr[:64],
    )
    session.add(record)
    session.flush()
    summary = _summary(form, asked_fields(form, fields.definitions(session)), values)
    crm.add_event(
        session,
        contact_id,
        "form",
        text=summary,
        ref=f"consent:{record.id}",
        actor_name=via.name,
    )
    if form.notify_email:
        _notify(session, form, record, contact_id, summary, base_url)
    audit.record(
        session,
        via,
        "contact_form.submit",
        "contact",
        str(contact_id),
        {"form": form.id, "created": not matches, "consent_record": record.id},
    )
    return Accepted(contact_id, not matches, record.id)


def _summary(form: ContactForm, asked: Sequence[Asked], values: Mapping[str, str]) -> str:
    """What was sent, one "Label: value" line per field (in English: the
    timeline and the notification keep what happened as it happened)."""
    lines = [f"{a.label}: {values[a.key]}" for a in asked if values.get(a.key)]
    return f"{form.name}\n" + "\n".join(lines)


def _notify(
    session: Session,
    form: ContactForm,
    record: ConsentRecord,
    contact_id: int,
    summary: str,
    base_url: str,
) -> None:
    for user_id in form.notify_user_ids:
        user = session.get(User, user_id)
        if user is None or not user.is_active or not user.email:
            continue  # left since the form was saved
        outbox.queue_mail(
            session,
            purpose=f"contact-form:{record.id}:{user.id}",
            to=user.email,
            to_name=user.display_name,
            subject=f"Contact form: {form.name}",
            body=(
                f'A new submission of the contact form "{form.name}".\n\n{summary}\n\n'
                f"Contact: {base_url}/web/contacts/{contact_id}\n"
            ),
        )
