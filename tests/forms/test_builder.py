"""The form builder's checks and consent text versions (rolled-back session)."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from kmdav import audit
from kmdav.accounts import permissions
from kmdav.accounts import service as accounts
from kmdav.errors import NotFoundError, ValidationError
from kmdav.forms import builder
from kmdav.forms.builder import FieldChoice, FormSpec
from kmdav.models import AuditEntry, ConsentText, CustomFieldDefinition

ACTOR = audit.Actor(name="tester", source="test")


def spec(**changes: object) -> FormSpec:
    base = FormSpec(
        name="Contact us",
        fields=(FieldChoice("given_name"), FieldChoice("email", required=True)),
        consent_text="I agree that my data is stored to answer my request.",
        privacy_url="https://example.com/privacy",
    )
    return FormSpec(**{**base.__dict__, **changes})  # type: ignore[arg-type]


def field_of(session: Session, **changes: object) -> str:
    with pytest.raises(ValidationError) as caught:
        builder.create_form(session, actor=ACTOR, spec=spec(**changes))
    assert caught.value.field is not None
    return caught.value.field


def test_a_valid_form_gets_a_public_id_and_consent_version_1(session: Session) -> None:
    form = builder.create_form(session, actor=ACTOR, spec=spec())
    assert len(form.public_id) >= 16
    assert builder.public_form(session, form.public_id) is form
    consent = builder.current_consent(session, form.id)
    assert consent is not None
    assert consent.version == 1
    assert consent.privacy_url == "https://example.com/privacy"
    assert session.query(AuditEntry).filter_by(action="contact_form.create").count() == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": "  "}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": "two\nlines"}, "name"),
        ({"language": "fr"}, "language"),
        ({"fields": (FieldChoice("shoe_size", True),)}, "fields"),
        ({"fields": (FieldChoice("custom:NOPE", True),)}, "fields"),
        ({"fields": (FieldChoice("email", True), FieldChoice("email"))}, "fields"),
        ({"fields": (FieldChoice("email"), FieldChoice("message", True))}, "fields"),
        ({"consent_text": ""}, "consent_text"),
        ({"privacy_url": "", "privacy_text": ""}, "privacy_url"),
        ({"privacy_url": "javascript:alert(1)"}, "privacy_url"),
        ({"redirect_url": "ftp://example.com/"}, "redirect_url"),
        ({"redirect_url": "https://"}, "redirect_url"),
        ({"redirect_url": "/thanks"}, "redirect_url"),
        ({"notify_user_ids": (999_999,)}, "notify"),
    ],
)
def test_bad_input_names_its_field(
    session: Session, changes: dict[str, object], field: str
) -> None:
    assert field_of(session, **changes) == field


def test_a_user_without_e_mail_cannot_be_notified_by_mail(session: Session) -> None:
    user = accounts.create_user(session, "nomail", "password-123", actor=ACTOR)
    assert field_of(session, notify_user_ids=(user.id,)) == "notify"
    form = builder.create_form(
        session, actor=ACTOR, spec=spec(notify_user_ids=(user.id,), notify_email=False)
    )
    assert form.notify_user_ids == [user.id]


def test_own_fields_can_be_asked(session: Session) -> None:
    session.add(CustomFieldDefinition(key="CUSTNO", label="Customer number", field_type="text"))
    session.flush()
    form = builder.create_form(
        session,
        actor=ACTOR,
        spec=spec(fields=(FieldChoice("email", True), FieldChoice("custom:CUSTNO", True))),
    )
    assert builder.choices(form)[1] == FieldChoice("custom:CUSTNO", True)


def test_a_changed_consent_text_is_a_new_version_and_the_old_stays(session: Session) -> None:
    form = builder.create_form(session, actor=ACTOR, spec=spec())
    builder.update_form(session, actor=ACTOR, form_id=form.id, spec=spec(name="Renamed"))
    assert [v.version for v in builder.consent_versions(session, form.id)] == [1]
    builder.update_form(session, actor=ACTOR, form_id=form.id, spec=spec(consent_text="New words."))
    builder.update_form(
        session,
        actor=ACTOR,
        form_id=form.id,
        spec=spec(consent_text="New words.", privacy_text="Also this."),
    )
    versions = builder.consent_versions(session, form.id)
    assert [(v.version, v.consent_text) for v in versions] == [
        (3, "New words."),
        (2, "New words."),
        (1, "I agree that my data is stored to answer my request."),
    ]
    assert session.query(ConsentText).filter_by(form_id=form.id).count() == 3


def test_a_deleted_form_is_gone_but_its_consent_texts_stay(session: Session) -> None:
    form = builder.create_form(session, actor=ACTOR, spec=spec())
    builder.delete_form(session, actor=ACTOR, form_id=form.id)
    assert builder.public_form(session, form.public_id) is None
    assert builder.list_forms(session) == []
    with pytest.raises(NotFoundError):
        builder.get_form(session, form.id)
    assert builder.current_consent(session, form.id) is not None


def test_who_may_build(session: Session) -> None:
    plain = accounts.create_user(session, "plain", "password-123", actor=ACTOR)
    keeper = accounts.create_user(session, "keeper", "password-123", actor=ACTOR)
    boss = accounts.create_user(session, "boss", "password-123", is_admin=True, actor=ACTOR)
    permissions.grant(session, "contacts", "administer", user=keeper)
    assert not builder.may_build(session, plain.id)
    assert builder.may_build(session, keeper.id)
    assert builder.may_build(session, boss.id)
