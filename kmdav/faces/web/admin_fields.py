"""``/web/admin/fields``: administrators define the own contact fields.

Create a field (key, label, type, options, required, for persons and/or
companies), change its label, options, "required" and scope, move it up or
down (the order of forms, lists and the NOTE block on phones), delete it.
Key and type stay once made: values are stored as text of that type.
"""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from kmdav.contacts import fields
from kmdav.faces.web._web import PREFIX, Call, FormErrors, NavEntry, action, page, redirect
from kmdav.i18n import N_

PATH = PREFIX + "/admin/fields"
NAVIGATION = (NavEntry(PATH, N_("Contact fields"), admin_only=True),)
NOTICES = {
    "created": N_("The field was created."),
    "saved": N_("The field was changed."),
    "moved": N_("The order was changed."),
    "deleted": N_("The field was deleted. Cards keep their values."),
}


def _key(call: Call) -> str:
    value: str = call.request.path_params["key"]
    return value


def _options(call: Call) -> list[str]:
    return [line for line in call.field("options", strip=False).splitlines() if line.strip()]


def _fields_page(call: Call, *, errors: FormErrors | None = None, status: int = 200) -> Response:
    errors = errors or {}
    failed_key = call.request.path_params.get("key") if errors else None
    creating = bool(errors) and failed_key is None
    return call.render(
        "admin_fields.html",
        status,
        defs=fields.definitions(call.session),
        types=fields.FIELD_TYPES,
        scopes=fields.APPLIES_TO,
        errors=errors,
        failed_key=failed_key,
        values={
            "key": call.field("key") if creating else "",
            "label": call.field("label") if creating else "",
            "field_type": call.field("field_type") if creating else "text",
            "options": call.field("options", strip=False) if creating else "",
            "applies_to": call.field("applies_to") if creating else "both",
            "required": call.checked("required") if creating else False,
        },
        notice=call.notice(NOTICES),
    )


def _invalid(call: Call, errors: FormErrors) -> Response:
    return _fields_page(call, errors=errors, status=400)


@page(admin=True)
def fields_page(call: Call) -> Response:
    return _fields_page(call)


@action(admin=True, invalid=_invalid)
def create_field(call: Call) -> Response:
    fields.create_field(
        call.session,
        call.actor,
        key=call.field("key"),
        label=call.field("label"),
        field_type=call.field("field_type"),
        required=call.checked("required"),
        options=_options(call),
        applies_to=call.field("applies_to") or "both",
    )
    return redirect(PATH + "?notice=created")


@action(admin=True, invalid=_invalid)
def update_field(call: Call) -> Response:
    fields.update_field(
        call.session,
        call.actor,
        _key(call),
        label=call.field("label"),
        required=call.checked("required"),
        options=_options(call),
        applies_to=call.field("applies_to") or "both",
    )
    return redirect(PATH + "?notice=saved")


@action(admin=True, invalid=_invalid)
def move_field(call: Call) -> Response:
    offset = -1 if call.field("direction") == "up" else 1
    fields.move_field(call.session, call.actor, _key(call), offset=offset)
    return redirect(PATH + "?notice=moved")


@action(admin=True, invalid=_invalid)
def delete_field(call: Call) -> Response:
    fields.delete_field(call.session, call.actor, _key(call))
    return redirect(PATH + "?notice=deleted")


routes = [
    Route("/admin/fields", fields_page, methods=["GET"], name="web_admin_fields"),
    Route("/admin/fields", create_field, methods=["POST"]),
    Route("/admin/fields/{key}/edit", update_field, methods=["POST"]),
    Route("/admin/fields/{key}/move", move_field, methods=["POST"]),
    Route("/admin/fields/{key}/delete", delete_field, methods=["POST"]),
]
