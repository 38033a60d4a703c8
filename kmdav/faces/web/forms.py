"""``/web/forms``: the website contact form builder.

List, create, edit and delete forms (:mod:`kmdav.forms.builder`); each
form's page shows its public address, the embed snippets (a plain HTML
form that posts to ``/f/<id>``, and an ``<iframe>``) and the versions of
its consent text.  Administrators and users with the contacts
"administer" permission build forms; others get 403.
"""

from __future__ import annotations

from html import escape

from starlette.responses import Response
from starlette.routing import Route

from kmdav.accounts import service as accounts
from kmdav.contacts import fields
from kmdav.errors import ValidationError
from kmdav.faces.web._web import (
    PREFIX,
    Call,
    FormErrors,
    NavEntry,
    action,
    error_page,
    page,
    redirect,
)
from kmdav.forms import builder, spam, submission
from kmdav.forms.builder import FieldChoice, FormSpec
from kmdav.i18n import N_
from kmdav.models import ContactForm, User

PATH = PREFIX + "/forms"
NAV = (NavEntry(PATH, N_("Forms"), admin_only=True),)
NOTICES = {
    "created": N_("The form was created. Copy a snippet below into your website."),
    "saved": N_("The form was saved."),
    "deleted": N_("The form was deleted. Its address no longer answers; consent records stay."),
}
_MAY_NOT = N_("Only administrators and users who administer contacts may build forms.")


def _may_build(call: Call) -> Response | None:
    if builder.may_build(call.session, call.viewer.id):
        return None
    return error_page(call.request, call.web, 403, _MAY_NOT, call.viewer)


def _spec(call: Call) -> FormSpec:
    asked = call.values("ask")
    required = set(call.values("required"))
    notify = []
    for value in call.values("notify"):
        if not value.isdigit():
            raise ValidationError("choose users from the list", field="notify")
        notify.append(int(value))
    return FormSpec(
        name=call.field("name"),
        language=call.field("form_language") or "en",
        fields=tuple(FieldChoice(key, key in required) for key in asked),
        consent_text=call.field("consent_text"),
        privacy_url=call.field("privacy_url"),
        privacy_text=call.field("privacy_text"),
        thank_you_text=call.field("thank_you_text"),
        redirect_url=call.field("redirect_url"),
        notify_email=call.checked("notify_email"),
        notify_user_ids=tuple(notify),
    )


def _base_url(call: Call) -> str:
    return f"{call.request.url.scheme}://{call.request.url.netloc}"


def _snippets(call: Call, form: ContactForm) -> tuple[str, str]:
    """(plain HTML form, iframe) to paste into a website, in the form's language."""
    base = _base_url(call)
    tokens = spam.TimeTokens(call.web.settings.resolved_secret(), call.web.settings.forms)
    asked = submission.asked_fields(form, fields.definitions(call.session))
    html = (
        call.web.templates[form.language]
        .get_template("form_snippet.html")
        .render(
            form=form,
            base=base,
            asked=asked,
            consent=builder.current_consent(call.session, form.id),
            token=tokens.issue(form.public_id, spam.SNIPPET),
            token_field=spam.TOKEN_FIELD,
            honeypot=spam.HONEYPOT_FIELD,
        )
    )
    iframe = (
        f'<iframe src="{base}/f/{form.public_id}" title="{escape(form.name)}" '
        'width="100%" height="800" loading="lazy"></iframe>'
    )
    return html.strip(), iframe


def _has_email(call: Call) -> bool:
    user = call.session.get(User, call.viewer.id)
    return user is not None and bool(user.email)


def _values_of(form: ContactForm | None, call: Call, failed: bool) -> dict[str, object]:
    if failed:
        return {
            "name": call.field("name"),
            "language": call.field("form_language"),
            "ask": set(call.values("ask")),
            "required": set(call.values("required")),
            "consent_text": call.field("consent_text"),
            "privacy_url": call.field("privacy_url"),
            "privacy_text": call.field("privacy_text"),
            "thank_you_text": call.field("thank_you_text"),
            "redirect_url": call.field("redirect_url"),
            "notify_email": call.checked("notify_email"),
            "notify": set(call.values("notify")),
        }
    if form is None:
        return {
            "name": "",
            "language": call.language,
            "ask": {"given_name", "family_name", "email", "message"},
            "required": {"email"},
            "consent_text": "",
            "privacy_url": "",
            "privacy_text": "",
            "thank_you_text": "",
            "redirect_url": "",
            "notify_email": True,
            # The builder is told by default, when there is an address to tell.
            "notify": {str(call.viewer.id)} if _has_email(call) else set(),
        }
    consent = builder.current_consent(call.session, form.id)
    return {
        "name": form.name,
        "language": form.language,
        "ask": {c.key for c in builder.choices(form)},
        "required": {c.key for c in builder.choices(form) if c.required},
        "consent_text": consent.consent_text if consent else "",
        "privacy_url": consent.privacy_url if consent else "",
        "privacy_text": consent.privacy_text if consent else "",
        "thank_you_text": form.thank_you_text,
        "redirect_url": form.redirect_url,
        "notify_email": form.notify_email,
        "notify": {str(user_id) for user_id in form.notify_user_ids},
    }


def _edit_page(
    call: Call, form: ContactForm | None, *, errors: FormErrors | None = None, status: int = 200
) -> Response:
    available = [(f.key, f.label) for f in builder.STANDARD_FIELDS] + [
        (builder.CUSTOM_PREFIX + f.key, f.label) for f in fields.definitions(call.session)
    ]
    snippet, iframe = _snippets(call, form) if form is not None else ("", "")
    return call.render(
        "form_edit.html",
        status,
        form=form,
        errors=errors or {},
        values=_values_of(form, call, bool(errors)),
        available=available,
        own_keys={key for key, _ in available if key.startswith(builder.CUSTOM_PREFIX)},
        users=[u for u in accounts.list_users(call.session) if u.is_active],
        versions=builder.consent_versions(call.session, form.id) if form is not None else [],
        consents=builder.recent_consents(call.session, form.id) if form is not None else [],
        public_url=f"{_base_url(call)}/f/{form.public_id}" if form is not None else "",
        snippet=snippet,
        iframe=iframe,
        notice=call.notice(NOTICES),
    )


def _form_id(call: Call) -> int:
    value: int = call.request.path_params["form_id"]
    return value


@page()
def forms_page(call: Call) -> Response:
    refused = _may_build(call)
    if refused is not None:
        return refused
    return call.render(
        "forms.html",
        forms=builder.list_forms(call.session),
        base_url=_base_url(call),
        notice=call.notice(NOTICES),
    )


@page()
def new_form_page(call: Call) -> Response:
    return _may_build(call) or _edit_page(call, None)


@page()
def edit_form_page(call: Call) -> Response:
    return _may_build(call) or _edit_page(call, builder.get_form(call.session, _form_id(call)))


def _invalid(call: Call, errors: FormErrors) -> Response:
    form_id = call.request.path_params.get("form_id")
    form = builder.get_form(call.session, form_id) if form_id is not None else None
    return _edit_page(call, form, errors=errors, status=400)


@action(invalid=_invalid, max_fields=400)
def create_form(call: Call) -> Response:
    refused = _may_build(call)
    if refused is not None:
        return refused
    form = builder.create_form(call.session, actor=call.actor, spec=_spec(call))
    return redirect(f"{PATH}/{form.id}?notice=created")


@action(invalid=_invalid, max_fields=400)
def update_form(call: Call) -> Response:
    refused = _may_build(call)
    if refused is not None:
        return refused
    builder.update_form(call.session, actor=call.actor, form_id=_form_id(call), spec=_spec(call))
    return redirect(f"{PATH}/{_form_id(call)}?notice=saved")


@action()
def delete_form(call: Call) -> Response:
    refused = _may_build(call)
    if refused is not None:
        return refused
    builder.delete_form(call.session, actor=call.actor, form_id=_form_id(call))
    return redirect(f"{PATH}?notice=deleted")


routes = [
    Route("/forms", forms_page, methods=["GET"]),
    Route("/forms", create_form, methods=["POST"]),
    Route("/forms/new", new_form_page, methods=["GET"]),
    Route("/forms/{form_id:int}", edit_form_page, methods=["GET"]),
    Route("/forms/{form_id:int}", update_form, methods=["POST"]),
    Route("/forms/{form_id:int}/delete", delete_form, methods=["POST"]),
]
