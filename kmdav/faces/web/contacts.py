"""``/web/contacts``: the contact list, a contact's page, new/edit/delete.

Every change goes through :mod:`kmdav.contacts.service`, which patches the
stored vCard and stores it through the DAV write path, so phones see it at
their next sync.  The edit form carries the ETag it was rendered from; when
the card changed meanwhile (a phone, a colleague) the answer is 409 with
both versions side by side and a form to apply the own version on top of
the current one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from urllib.parse import urlencode

from starlette.responses import Response
from starlette.routing import Route

from kmdav.accounts import service as accounts
from kmdav.calendar.service import appointments_for_contact
from kmdav.contacts import access, crm, fields, search, service
from kmdav.contacts.cards import COMPANY, PERSON, ContactDraft
from kmdav.contacts.fieldtypes import FieldDef
from kmdav.dav.vcard import LabeledValue, PostalAddress
from kmdav.errors import NotFoundError, PermissionDeniedError, ValidationError
from kmdav.faces.web._web import (
    PREFIX,
    Call,
    FormErrors,
    NavEntry,
    action,
    error_text,
    page,
    redirect,
)
from kmdav.i18n import N_
from kmdav.models import User

PATH = PREFIX + "/contacts"
NAVIGATION = (NavEntry(PATH, N_("Contacts")),)
NOTICES = {
    "created": N_("The contact was created. Phones see it at their next sync."),
    "saved": N_("The changes were saved. Phones see them at their next sync."),
    "deleted": N_("The contact was deleted."),
    "note": N_("The note was added."),
    "owner": N_("The owner was changed."),
}
LABELS = ("work", "home", "cell", "other")
#: Own fields shown as list columns (the first ones in the admin's order).
LIST_COLUMNS = 3


def _user(call: Call) -> User:
    user = call.session.get(User, call.viewer.id)
    if user is None:
        raise NotFoundError("there is no user %(id)s", id=call.viewer.id)
    return user


def _company_book(call: Call) -> str:
    return call.web.settings.dav.company_addressbook


def _contact_id(call: Call) -> int:
    value: int = call.request.path_params["contact_id"]
    return value


# -- the list -----------------------------------------------------------------


def list_query(call: Call, defs: Sequence[FieldDef]) -> search.ContactQuery:
    params = call.request.query_params
    try:
        page_number = int(params.get("page", "1") or "1")
        owner = int(params["owner"]) if params.get("owner") else None
    except ValueError:
        raise ValidationError("this is not a number", field="page") from None
    return search.ContactQuery(
        q=params.get("q", "")[:200],
        tag=params.get("tag", ""),
        company=params.get("company", ""),
        owner_id=owner,
        kind=params.get("kind", ""),
        own={d.key: params.get("f_" + d.key, "") for d in defs if params.get("f_" + d.key)},
        sort=params.get("sort", "name"),
        page=page_number,
    )


def _link(query: search.ContactQuery, **changes: object) -> str:
    wanted = replace(query, **changes)  # type: ignore[arg-type]
    params: dict[str, str] = {
        "q": wanted.q,
        "tag": wanted.tag,
        "company": wanted.company,
        "owner": str(wanted.owner_id) if wanted.owner_id is not None else "",
        "kind": wanted.kind,
        "sort": wanted.sort if wanted.sort != "name" else "",
        "page": str(wanted.page) if wanted.page != 1 else "",
        **{"f_" + key: value for key, value in wanted.own.items()},
    }
    encoded = urlencode({k: v for k, v in params.items() if v})
    return PATH + ("?" + encoded if encoded else "")


@page()
def contact_list(call: Call) -> Response:
    user = _user(call)
    defs = fields.definitions(call.session)
    errors: FormErrors = {}
    query = search.ContactQuery()
    result = search.ContactPage([], 0, 1, 1)
    try:
        query = list_query(call, defs)
        result = search.search(call.session, user, query, defs, company_book=_company_book(call))
    except ValidationError as error:
        errors = {"": error_text(error, call.web.translations[call.language])}
    books = list(access.books(call.session, user, _company_book(call)))
    return call.render(
        "contacts.html",
        400 if errors else 200,
        query=query,
        result=result,
        defs=defs,
        columns=defs[:LIST_COLUMNS],
        tags=search.tags_in_use(call.session, books),
        companies=search.company_suggestions(call.session, books, query.company),
        owners=accounts.list_users(call.session),
        link=lambda **changes: _link(query, **changes),
        errors=errors,
        notice=call.notice(NOTICES),
    )


# -- the form -----------------------------------------------------------------


def _rows(call: Call, *names: str) -> list[list[str]]:
    columns = [call.values(name) for name in names]
    count = max((len(c) for c in columns), default=0)
    return [[c[i] if i < len(c) else "" for c in columns] for i in range(count)]


def _linked_company(call: Call, kind: str, *, resolve: bool) -> tuple[str, str]:
    """(uid, name) of the linked company.  The form sends the name typed into
    ``company_link`` (suggestions from ``/web/contacts/companies``) and the
    uid it was rendered with; the conflict page sends only ``company_uid``."""
    uid = call.field("company_uid") if kind == PERSON else ""
    if kind != PERSON or call.form is None or "company_link" not in call.form:
        return uid, ""
    typed = call.field("company_link")
    books = list(access.books(call.session, _user(call), _company_book(call)))
    if not typed:
        return "", ""
    current = search.company_name(call.session, books, uid) if uid else ""
    if current and current.casefold() == typed.casefold():
        return uid, current
    found = search.companies_named(call.session, books, typed)
    if len(found) == 1:
        return found[0]
    if not resolve:
        return uid, current
    if not found:
        raise ValidationError(
            "there is no company named %(name)r; leave the field empty or pick a suggestion",
            field="company_link",
            name=typed,
        )
    raise ValidationError(
        "several companies are named %(name)r; rename one of them to tell them apart",
        field="company_link",
        name=typed,
    )


def _draft_from_form(call: Call, defs: Sequence[FieldDef], *, resolve: bool = True) -> ContactDraft:
    kind = call.field("kind") or PERSON
    company = call.field("company")
    company_uid, linked_name = _linked_company(call, kind, resolve=resolve)
    if company_uid and not company:
        books = list(access.books(call.session, _user(call)))
        company = linked_name or search.company_name(call.session, books, company_uid)
    custom: dict[str, str] = {}
    for definition in defs:
        value = call.field("f_" + definition.key, strip=definition.field_type != "text")
        if value:
            custom[definition.key] = value
    return ContactDraft(
        kind=kind,
        given_name=call.field("given_name"),
        family_name=call.field("family_name"),
        company=company,
        title=call.field("title"),
        emails=tuple(
            LabeledValue(v, label) for v, label in _rows(call, "email", "email_label") if v
        ),
        phones=tuple(
            LabeledValue(v, label) for v, label in _rows(call, "phone", "phone_label") if v
        ),
        addresses=tuple(
            PostalAddress(label, street, locality, "", code, country)
            for label, street, code, locality, country in _rows(
                call, "adr_label", "adr_street", "adr_code", "adr_locality", "adr_country"
            )
            if street or code or locality or country
        ),
        birthday=call.field("birthday"),
        note=call.field("note", strip=False),
        tags=tuple(t.strip() for t in call.field("tags").split(",") if t.strip()),
        custom=custom,
        company_uid=company_uid,
    )


def _form_page(
    call: Call,
    draft: ContactDraft,
    *,
    contact_id: int | None,
    etag: str = "",
    invalid: dict[str, str] | None = None,
    errors: FormErrors | None = None,
    status: int = 200,
) -> Response:
    user = _user(call)
    books = list(access.books(call.session, user, _company_book(call)))
    return call.render(
        "contact_form.html",
        status,
        draft=draft,
        contact_id=contact_id,
        etag=etag,
        defs=[d for d in fields.definitions(call.session) if d.applies(draft.kind)],
        invalid=invalid or {},
        company_link=call.field("company_link")
        if errors
        else search.company_name(call.session, books, draft.company_uid)
        if draft.company_uid
        else "",
        book_choices=access.writable_books(call.session, user, _company_book(call))
        if contact_id is None
        else [],
        chosen_book=call.field("book"),
        labels=LABELS,
        errors=errors or {},
    )


@page()
def new_contact(call: Call) -> Response:
    kind = COMPANY if call.request.query_params.get("kind") == COMPANY else PERSON
    return _form_page(call, ContactDraft(kind=kind), contact_id=None)


def _invalid_new(call: Call, errors: FormErrors) -> Response:
    draft = _draft_from_form(call, fields.definitions(call.session), resolve=False)
    return _form_page(call, draft, contact_id=None, errors=errors, status=400)


@action(invalid=_invalid_new, max_fields=400)
def create(call: Call) -> Response:
    draft = _draft_from_form(call, fields.definitions(call.session))
    book = call.field("book")
    try:
        collection_id = int(book) if book else None
    except ValueError:
        raise ValidationError("choose an address book from the list", field="book") from None
    contact_id = service.create_contact(
        call.session,
        actor=_user(call),
        draft=draft,
        collection_id=collection_id,
        company_book=_company_book(call),
        via=call.actor,
    )
    return redirect(f"{PATH}/{contact_id}?notice=created")


# -- one contact --------------------------------------------------------------


@page()
def contact_page(call: Call) -> Response:
    return _detail(call)


def _detail(call: Call, *, errors: FormErrors | None = None, status: int = 200) -> Response:
    user = _user(call)
    view = service.get_contact(
        call.session, user, _contact_id(call), company_book=_company_book(call)
    )
    past, upcoming = appointments_for_contact(
        call.session, user, view.uid, emails=[e.value for e in view.draft.emails]
    )
    return call.render(
        "contact.html",
        status,
        contact=view,
        past=past,
        upcoming=upcoming,
        defs=[
            d
            for d in fields.definitions(call.session)
            if d.applies(view.draft.kind) or d.key in view.draft.custom
        ],
        owners=accounts.list_users(call.session),
        may_delete=access.may(call.session, user, "delete") and view.writable,
        errors=errors or {},
        notice=call.notice(NOTICES),
    )


@page()
def edit_page(call: Call) -> Response:
    user = _user(call)
    view = service.get_contact(
        call.session, user, _contact_id(call), company_book=_company_book(call)
    )
    if not view.writable:
        raise NotFoundError("there is no contact %(id)s", id=view.id)
    return _form_page(call, view.draft, contact_id=view.id, etag=view.etag, invalid=view.invalid)


def _invalid_edit(call: Call, errors: FormErrors) -> Response:
    user = _user(call)
    view = service.get_contact(
        call.session, user, _contact_id(call), company_book=_company_book(call)
    )
    draft = _draft_from_form(call, fields.definitions(call.session), resolve=False)
    return _form_page(
        call,
        draft,
        contact_id=view.id,
        etag=call.field("etag"),
        invalid=view.invalid,
        errors=errors,
        status=400,
    )


@action(invalid=_invalid_edit, max_fields=400)
def save(call: Call) -> Response:
    defs = fields.definitions(call.session)
    draft = _draft_from_form(call, defs)
    try:
        service.update_contact(
            call.session,
            actor=_user(call),
            contact_id=_contact_id(call),
            draft=draft,
            etag=call.field("etag"),
            company_book=_company_book(call),
            via=call.actor,
        )
    except service.ContactConflictError as conflict:
        return call.render(
            "contact_conflict.html",
            409,
            contact_id=_contact_id(call),
            mine=draft,
            current=conflict.current,
            etag=conflict.etag,
            defs=defs,
            labels=LABELS,
        )
    return redirect(f"{PATH}/{_contact_id(call)}?notice=saved")


def _invalid_detail(call: Call, errors: FormErrors) -> Response:
    return _detail(call, errors=errors, status=400)


@action(invalid=_invalid_detail)
def add_note(call: Call) -> Response:
    user = _user(call)
    view = service.get_contact(
        call.session, user, _contact_id(call), company_book=_company_book(call)
    )
    crm.add_note(call.session, call.actor, user, view.id, call.field("note", strip=False))
    return redirect(f"{PATH}/{view.id}?notice=note#notes")


@action(invalid=_invalid_detail)
def change_owner(call: Call) -> Response:
    user = _user(call)
    view = service.get_contact(
        call.session, user, _contact_id(call), company_book=_company_book(call)
    )
    if not view.writable:
        raise PermissionDeniedError("you may not write to this address book")
    value = call.field("owner")
    try:
        owner_id = int(value) if value else None
    except ValueError:
        raise ValidationError("choose a user from the list", field="owner") from None
    crm.set_owner(call.session, call.actor, view.id, owner_id)
    crm.add_event(call.session, view.id, "owner", text=value, actor=user)
    return redirect(f"{PATH}/{view.id}?notice=owner")


@page()
def delete_page(call: Call) -> Response:
    user = _user(call)
    view = service.get_contact(
        call.session, user, _contact_id(call), company_book=_company_book(call)
    )
    return call.render(
        "contact_delete.html",
        contact=view,
        may_delete=access.may(call.session, user, "delete") and view.writable,
        errors={},
    )


def _invalid_delete(call: Call, errors: FormErrors) -> Response:
    user = _user(call)
    view = service.get_contact(
        call.session, user, _contact_id(call), company_book=_company_book(call)
    )
    return call.render(
        "contact_delete.html",
        400,
        contact=view,
        may_delete=access.may(call.session, user, "delete") and view.writable,
        errors=errors,
    )


@action(invalid=_invalid_delete)
def delete(call: Call) -> Response:
    try:
        service.delete_contact(
            call.session,
            actor=_user(call),
            contact_id=_contact_id(call),
            etag=call.field("etag") or None,
            company_book=_company_book(call),
            via=call.actor,
        )
    except service.ContactConflictError:
        raise ValidationError(
            "the contact was changed meanwhile; look at it again before you delete it"
        ) from None
    return redirect(PATH + "?notice=deleted")


@page()
def company_choices(call: Call) -> Response:
    """``<option>`` elements for the companies whose name starts with ``?q=``
    (the linked-company field's and the list filter's suggestions)."""
    books = list(access.books(call.session, _user(call), _company_book(call)))
    typed = call.request.query_params.get("q", "")[:200]
    return call.render(
        "_company_options.html",
        companies=search.company_suggestions(call.session, books, typed),
    )


routes = [
    Route("/contacts", contact_list, methods=["GET"], name="web_contacts"),
    Route("/contacts/companies", company_choices, methods=["GET"]),
    Route("/contacts/new", new_contact, methods=["GET"]),
    Route("/contacts/new", create, methods=["POST"]),
    Route("/contacts/{contact_id:int}", contact_page, methods=["GET"]),
    Route("/contacts/{contact_id:int}/edit", edit_page, methods=["GET"]),
    Route("/contacts/{contact_id:int}/edit", save, methods=["POST"]),
    Route("/contacts/{contact_id:int}/notes", add_note, methods=["POST"]),
    Route("/contacts/{contact_id:int}/owner", change_owner, methods=["POST"]),
    Route("/contacts/{contact_id:int}/delete", delete_page, methods=["GET"]),
    Route("/contacts/{contact_id:int}/delete", delete, methods=["POST"]),
]
