"""``/web/contacts/duplicates`` and ``/web/contacts/merge``: find likely
duplicate contacts and merge them (:mod:`kmdav.contacts.duplicates`).

The merge page shows the contacts side by side; the user picks the
surviving card and, field by field, which value it keeps (e-mails, phones,
addresses and tags one by one, all ticked by default).  The values come
from the server, never from the form: the form only says which contact's
value to take.  Each contact's ETag travels with the form, so a contact
changed meanwhile gives "changed meanwhile" and the page again with the
current versions, never a merge of stale data.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from kmdav import jobs
from kmdav.contacts import access, duplicates, duplicatescan
from kmdav.contacts.cards import ContactDraft
from kmdav.contacts.service import ContactConflictError, ContactView
from kmdav.errors import PermissionDeniedError, ValidationError
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
from kmdav.faces.web.jobs import STATUSES
from kmdav.i18n import N_
from kmdav.models import Contact, User

PATH = PREFIX + "/contacts/duplicates"
MERGE_PATH = PREFIX + "/contacts/merge"
#: Merging needs the delete permission, which admins always hold; others
#: open the page by its address.
NAV = (NavEntry(PATH, N_("Duplicates"), admin_only=True),)
NOTICES = {
    "merged": N_("The contacts were merged. Devices see one card at their next sync."),
    "scanning": N_("The search for duplicates runs in the background."),
}
REASONS = {
    duplicates.EMAIL: N_("same e-mail"),
    duplicates.PHONE: N_("same phone"),
    duplicates.NAME: N_("similar name"),
}
FIELD_LABELS = {
    "kind": N_("Kind"),
    "given_name": N_("First name"),
    "family_name": N_("Last name"),
    "company": N_("Company"),
    "title": N_("Job title"),
    "birthday": N_("Birthday"),
    "note": N_("Note"),
}
LISTS = ("emails", "phones", "addresses", "tags")


def _user(call: Call) -> User:
    user = call.session.get(User, call.viewer.id)
    assert user is not None  # the viewer was just loaded
    return user


def _company_book(call: Call) -> str:
    return call.web.settings.dav.company_addressbook


def _writable_books(call: Call) -> list[int]:
    books = access.books(call.session, _user(call), _company_book(call))
    return sorted(book for book, may_write in books.items() if may_write)


@page()
def duplicates_page(call: Call) -> Response:
    """The last scan's candidates (a scan runs as a background job: the
    finder reads the whole projection, ~10 s at 100,000 contacts)."""
    user = _user(call)
    writable = _writable_books(call)
    newest, done = duplicatescan.latest_scans(call.session, writable)
    candidates = duplicatescan.stored_candidates(call.session, done) if done else []
    ids = {c.first for c in candidates} | {c.second for c in candidates}
    names = {
        row.id: row.formatted_name or row.organization or "?"
        for row in call.session.query(Contact.id, Contact.formatted_name, Contact.organization)
        .filter(Contact.id.in_(ids))
        .all()
    }
    running = newest if newest is not None and not newest.finished else None
    return call.render(
        "contact_duplicates.html",
        candidates=candidates,
        names=names,
        reasons=REASONS,
        may_merge=access.may(call.session, user, "delete"),
        notice=call.notice(NOTICES),
        scanned=done,
        job=jobs.describe(running) if running is not None else None,
        job_status_label=call.gettext(STATUSES.get(running.status, "")) if running else "",
        failed=newest if newest is not None and newest.status == "failed" else None,
        books=writable,
    )


@action()
def scan(call: Call) -> Response:
    """Start a new search for duplicates in the books the user may change."""
    writable = _writable_books(call)
    if writable:
        duplicatescan.start_scan(call.session, _user(call), writable)
    return redirect(PATH + "?notice=scanning")


def _ids(call: Call) -> list[int]:
    raw = call.values("ids") if call.form is not None else call.request.query_params.getlist("ids")
    try:
        return [int(value) for value in raw]
    except ValueError:
        raise ValidationError("choose at least two contacts to merge", field="ids") from None


def _list_items(draft: ContactDraft, name: str) -> list[str]:
    items: tuple[Any, ...] = getattr(draft, name)
    if name == "addresses":
        return [
            ", ".join(
                p for p in (a.street, f"{a.postal_code} {a.locality}".strip(), a.country) if p
            )
            for a in items
        ]
    if name == "tags":
        return list(items)
    return [item.value for item in items]


def _merge_page(
    call: Call,
    views: list[ContactView],
    *,
    errors: FormErrors | None = None,
    status: int = 200,
) -> Response:
    suggested = duplicates.default_draft(views)
    keys = sorted({key for view in views for key in view.draft.custom})
    single = {
        name: next(
            (v.id for v in views if getattr(v.draft, name) == getattr(suggested, name)), views[0].id
        )
        for name in duplicates.SINGLE_FIELDS
    }
    own = {
        key: next((v.id for v in views if v.draft.custom.get(key) == suggested.custom.get(key)), 0)
        for key in keys
    }
    return call.render(
        "contact_merge.html",
        status,
        views=views,
        labels=FIELD_LABELS,
        single=single,
        own=own,
        own_keys=keys,
        lists={name: {v.id: _list_items(v.draft, name) for v in views} for name in LISTS},
        errors=errors or {},
    )


@page()
def merge_page(call: Call) -> Response:
    try:
        views = duplicates.merge_views(
            call.session, _user(call), _ids(call), company_book=_company_book(call)
        )
    except (ValidationError, PermissionDeniedError) as error:
        status = 403 if isinstance(error, PermissionDeniedError) else 400
        return error_page(call.request, call.web, status, error, call.viewer)
    return _merge_page(call, views)


def _chosen_draft(call: Call, views: list[ContactView], survivor: ContactView) -> ContactDraft:
    by_id = {view.id: view for view in views}

    def pick(name: str) -> ContactView:
        value = call.field(f"pick-{name}")
        return by_id.get(int(value), survivor) if value.isdigit() else survivor

    chosen: dict[str, Any] = {
        name: getattr(pick(name).draft, name) for name in duplicates.SINGLE_FIELDS
    }
    for name in LISTS:
        kept = set(call.values(name))
        items = [
            item
            for view in views
            for index, item in enumerate(getattr(view.draft, name))
            if f"{view.id}:{index}" in kept
        ]
        chosen[name] = (
            tuple(dict.fromkeys(items)) if name == "tags" else duplicates.union(tuple(items))
        )
    custom: dict[str, str] = {}
    for key in sorted({key for view in views for key in view.draft.custom}):
        value = call.field(f"custom-{key}")
        source = by_id.get(int(value)) if value.isdigit() else None
        if source is not None and source.draft.custom.get(key):
            custom[key] = source.draft.custom[key]
    company_uid = next((v.draft.company_uid for v in [survivor, *views] if v.draft.company_uid), "")
    return replace(survivor.draft, **chosen, custom=custom, company_uid=company_uid)


def _invalid(call: Call, errors: FormErrors) -> Response:
    views = duplicates.merge_views(
        call.session, _user(call), _ids(call), company_book=_company_book(call)
    )
    return _merge_page(call, views, errors=errors, status=400)


@action(invalid=_invalid, max_fields=400)
def merge(call: Call) -> Response:
    user = _user(call)
    ids = _ids(call)
    survivor_value = call.field("survivor")
    if not survivor_value.isdigit() or int(survivor_value) not in ids:
        raise ValidationError("choose the card that stays", field="survivor")
    survivor_id = int(survivor_value)
    ordered = [survivor_id, *(i for i in ids if i != survivor_id)]
    views = duplicates.merge_views(call.session, user, ordered, company_book=_company_book(call))
    etags = {view.id: call.field(f"etag-{view.id}") for view in views}
    if any(etags[view.id] != view.etag for view in views):
        raise ContactConflictError(views[0].draft, views[0].etag, {})
    duplicates.merge(
        call.session,
        user=user,
        survivor_id=survivor_id,
        other_ids=ordered[1:],
        draft=_chosen_draft(call, views, views[0]),
        etags=etags,
        company_book=_company_book(call),
        via=call.actor,
    )
    return redirect(PATH + "?notice=merged")


routes = [
    Route("/contacts/duplicates", duplicates_page, methods=["GET"]),
    Route("/contacts/duplicates/scan", scan, methods=["POST"]),
    Route("/contacts/merge", merge_page, methods=["GET"]),
    Route("/contacts/merge", merge, methods=["POST"]),
]
