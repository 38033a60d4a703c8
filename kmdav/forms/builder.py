"""Contact form definitions: what the builder saves, checked before it is saved.

A form asks for standard fields (:data:`STANDARD_FIELDS`) and own fields
(``custom:<key>``), each optionally mandatory; it shows a consent checkbox
with a consent text and a privacy notice (a link or a text).  Consent
wording is versioned: saving a form whose consent text or privacy notice
changed writes a new :class:`~kmdav.models.ConsentText`, and the old ones
stay, because consent records point at the exact words agreed to.

Who may build forms: administrators and users holding the contacts
"administer" permission (:func:`may_build`).  Services flush and audit.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from kmdav import audit
from kmdav.accounts.permissions import has_permission
from kmdav.contacts import fields
from kmdav.errors import NotFoundError, ValidationError
from kmdav.i18n import LANGUAGES, N_
from kmdav.models import (
    ConsentRecord,
    ConsentText,
    Contact,
    ContactForm,
    User,
    utcnow,
)

CUSTOM_PREFIX = "custom:"
MAX_NAME = 200
MAX_TEXT = 5000
MAX_URL = 2000


@dataclass(frozen=True)
class StandardField:
    key: str
    label: str
    #: How the public page asks: text, email, tel, date, textarea.
    input_type: str = "text"
    max_length: int = 200


#: What a form may ask besides own fields, in the order the builder lists them.
#: ``message`` is not part of the card: it goes into the contact's timeline.
STANDARD_FIELDS: tuple[StandardField, ...] = (
    StandardField("given_name", N_("First name")),
    StandardField("family_name", N_("Last name")),
    StandardField("company", N_("Company")),
    StandardField("title", N_("Job title")),
    StandardField("email", N_("E-mail"), "email", 254),
    StandardField("phone", N_("Phone"), "tel", 60),
    StandardField("street", N_("Street")),
    StandardField("postal_code", N_("Postcode"), max_length=40),
    StandardField("locality", N_("City")),
    StandardField("country", N_("Country")),
    StandardField("birthday", N_("Birthday"), "date", 10),
    StandardField("message", N_("Message"), "textarea", MAX_TEXT),
)
STANDARD = {field.key: field for field in STANDARD_FIELDS}
#: A form must ask at least one of these as a mandatory field, else a
#: submission could make a contact nobody can find or answer.
IDENTIFYING = ("email", "phone", "family_name", "company")


@dataclass(frozen=True)
class FieldChoice:
    key: str
    required: bool = False


@dataclass(frozen=True)
class FormSpec:
    """What the builder's form sends, before it is checked."""

    name: str
    language: str = "en"
    fields: tuple[FieldChoice, ...] = ()
    consent_text: str = ""
    privacy_url: str = ""
    privacy_text: str = ""
    thank_you_text: str = ""
    redirect_url: str = ""
    notify_email: bool = True
    notify_user_ids: tuple[int, ...] = ()


def may_build(session: Session, user_id: int) -> bool:
    user = session.get(User, user_id)
    return user is not None and (
        user.is_admin or has_permission(session, user, "contacts", "administer")
    )


def web_url(value: str, field: str) -> str:
    """``value`` as an absolute http(s) address, or :class:`ValidationError`."""
    url = value.strip()
    parts = urlsplit(url)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or len(url) > MAX_URL
        or any(ch.isspace() or ord(ch) < 32 for ch in url)
    ):
        raise ValidationError("enter an address starting with http:// or https://", field=field)
    return url


def _check(session: Session, spec: FormSpec) -> FormSpec:
    name = spec.name.strip()
    if not name:
        raise ValidationError("give the form a name", field="name")
    if len(name) > MAX_NAME:
        raise ValidationError("the name is too long (at most 200 characters)", field="name")
    if any(ord(ch) < 32 for ch in name):
        raise ValidationError("the name must be one line", field="name")
    if spec.language not in LANGUAGES:
        raise ValidationError("choose a language from the list", field="language")
    known_own = {f.key for f in fields.definitions(session)}
    seen: set[str] = set()
    for choice in spec.fields:
        if choice.key in seen:
            raise ValidationError(
                "the field %(key)r is chosen twice", field="fields", key=choice.key
            )
        seen.add(choice.key)
        own = choice.key.removeprefix(CUSTOM_PREFIX)
        if choice.key not in STANDARD and not (
            choice.key.startswith(CUSTOM_PREFIX) and own in known_own
        ):
            raise ValidationError("there is no field %(key)r", field="fields", key=choice.key)
    if not any(c.required and c.key in IDENTIFYING for c in spec.fields):
        raise ValidationError(
            "make at least one of e-mail, phone, last name or company mandatory",
            field="fields",
        )
    consent = spec.consent_text.strip()
    if not consent:
        raise ValidationError("enter the consent text people agree to", field="consent_text")
    if len(consent) > MAX_TEXT:
        raise ValidationError(
            "the text is too long (at most 5000 characters)", field="consent_text"
        )
    privacy_url = web_url(spec.privacy_url, "privacy_url") if spec.privacy_url.strip() else ""
    privacy_text = spec.privacy_text.strip()
    if not privacy_url and not privacy_text:
        raise ValidationError("give a link to the privacy policy or its text", field="privacy_url")
    if len(privacy_text) > MAX_TEXT or len(spec.thank_you_text) > MAX_TEXT:
        field = "privacy_text" if len(privacy_text) > MAX_TEXT else "thank_you_text"
        raise ValidationError("the text is too long (at most 5000 characters)", field=field)
    redirect = web_url(spec.redirect_url, "redirect_url") if spec.redirect_url.strip() else ""
    users = _notified_users(session, spec)
    return FormSpec(
        name=name,
        language=spec.language,
        fields=spec.fields,
        consent_text=consent,
        privacy_url=privacy_url,
        privacy_text=privacy_text,
        thank_you_text=spec.thank_you_text.strip(),
        redirect_url=redirect,
        notify_email=spec.notify_email,
        notify_user_ids=tuple(user.id for user in users),
    )


def _notified_users(session: Session, spec: FormSpec) -> list[User]:
    users = []
    for user_id in dict.fromkeys(spec.notify_user_ids):
        user = session.get(User, user_id)
        if user is None or not user.is_active:
            raise ValidationError("choose users from the list", field="notify")
        if spec.notify_email and not user.email:
            raise ValidationError(
                "%(name)s has no e-mail address to notify", field="notify", name=user.username
            )
        users.append(user)
    return users


def _write_consent_version(session: Session, form: ContactForm, spec: FormSpec) -> None:
    latest = current_consent(session, form.id) if form.id else None
    if latest is not None and (
        latest.consent_text,
        latest.privacy_url,
        latest.privacy_text,
    ) == (spec.consent_text, spec.privacy_url, spec.privacy_text):
        return
    session.add(
        ConsentText(
            form_id=form.id,
            version=(latest.version + 1) if latest is not None else 1,
            consent_text=spec.consent_text,
            privacy_url=spec.privacy_url,
            privacy_text=spec.privacy_text,
        )
    )
    session.flush()


def _apply(form: ContactForm, spec: FormSpec) -> None:
    form.name = spec.name
    form.language = spec.language
    form.fields = [{"key": c.key, "required": c.required} for c in spec.fields]
    form.thank_you_text = spec.thank_you_text
    form.redirect_url = spec.redirect_url
    form.notify_email = spec.notify_email
    form.notify_user_ids = list(spec.notify_user_ids)
    form.updated_at = utcnow()


def create_form(session: Session, *, actor: audit.Actor, spec: FormSpec) -> ContactForm:
    checked = _check(session, spec)
    form = ContactForm(public_id=secrets.token_urlsafe(12), created_by=actor.user_id)
    _apply(form, checked)
    session.add(form)
    session.flush()
    _write_consent_version(session, form, checked)
    audit.record(
        session, actor, "contact_form.create", "contact_form", str(form.id), {"name": form.name}
    )
    return form


def update_form(
    session: Session, *, actor: audit.Actor, form_id: int, spec: FormSpec
) -> ContactForm:
    form = get_form(session, form_id)
    checked = _check(session, spec)
    _apply(form, checked)
    _write_consent_version(session, form, checked)
    audit.record(
        session, actor, "contact_form.update", "contact_form", str(form.id), {"name": form.name}
    )
    return form


def delete_form(session: Session, *, actor: audit.Actor, form_id: int) -> None:
    """The form stops answering; its consent texts stay for the records."""
    form = get_form(session, form_id)
    form.deleted_at = utcnow()
    audit.record(
        session, actor, "contact_form.delete", "contact_form", str(form.id), {"name": form.name}
    )


def get_form(session: Session, form_id: int) -> ContactForm:
    form = session.get(ContactForm, form_id)
    if form is None or form.deleted_at is not None:
        raise NotFoundError("there is no form %(id)s", id=form_id)
    return form


def public_form(session: Session, public_id: str) -> ContactForm | None:
    return session.scalar(
        select(ContactForm).where(
            ContactForm.public_id == public_id, ContactForm.deleted_at.is_(None)
        )
    )


def list_forms(session: Session) -> list[ContactForm]:
    return list(
        session.scalars(
            select(ContactForm).where(ContactForm.deleted_at.is_(None)).order_by(ContactForm.name)
        )
    )


def current_consent(session: Session, form_id: int) -> ConsentText | None:
    return session.scalar(
        select(ConsentText)
        .where(ConsentText.form_id == form_id)
        .order_by(ConsentText.version.desc())
        .limit(1)
    )


def consent_versions(session: Session, form_id: int) -> Sequence[ConsentText]:
    return session.scalars(
        select(ConsentText)
        .where(ConsentText.form_id == form_id)
        .order_by(ConsentText.version.desc())
    ).all()


def choices(form: ContactForm) -> tuple[FieldChoice, ...]:
    return tuple(FieldChoice(str(f["key"]), bool(f.get("required"))) for f in form.fields)


@dataclass(frozen=True)
class ConsentEntry:
    """One consent given through a form, as the builder page lists it."""

    contact_id: int
    contact_name: str
    given_at: datetime
    version: int
    page_url: str
    remote_addr: str


def recent_consents(session: Session, form_id: int, limit: int = 50) -> list[ConsentEntry]:
    rows = session.execute(
        select(
            ConsentRecord.contact_id,
            Contact.formatted_name,
            ConsentRecord.given_at,
            ConsentText.version,
            ConsentRecord.page_url,
            ConsentRecord.remote_addr,
        )
        .join(ConsentText, ConsentText.id == ConsentRecord.consent_text_id)
        .join(Contact, Contact.id == ConsentRecord.contact_id)
        .where(ConsentRecord.form_id == form_id)
        .order_by(ConsentRecord.id.desc())
        .limit(limit)
    )
    return [ConsentEntry(*row) for row in rows]
