"""``/web/sharing``: share address books, calendars and task lists.

The viewer sees their own collections with whom each is shared, shares one
with a user (by name) or a group (and so its subgroups), changes a share's
level or removes it, and sees what others shared with them.  Only owners
share (:func:`kmdav.dav.sharing.require_own_collection`); every change goes
through :mod:`kmdav.dav.sharing`, which audits it, and reaches devices at
their next request.
"""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from kmdav.accounts import groups
from kmdav.dav import sharing
from kmdav.errors import NotFoundError, ValidationError
from kmdav.faces.web._web import PREFIX, Call, FormErrors, action, page, redirect

PATH = PREFIX + "/sharing"
#: Keys of the fixed messages after a change (the template words them).
NOTICES = ("shared", "changed", "removed")


def _path_id(call: Call, name: str) -> int | None:
    value: int | None = call.request.path_params.get(name)
    return value


def _sharing_page(call: Call, *, errors: FormErrors | None = None, status: int = 200) -> Response:
    errors = errors or {}
    notice = call.request.query_params.get("notice", "")
    failed_collection = _path_id(call, "collection_id") if errors else None
    return call.render(
        "sharing.html",
        status,
        own=sharing.own_collections(call.session, call.viewer.id),
        shared_with_me=sharing.shared_with(call.session, call.viewer.id),
        groups=groups.flatten(groups.group_tree(call.session)),
        errors=errors,
        # Which form failed, so its message shows next to its fields.
        failed_collection=failed_collection,
        failed_share=_path_id(call, "share_id") if errors else None,
        values={
            "user": call.field("user") if failed_collection else "",
            "group": call.field("group") if failed_collection else "",
            "access": call.field("access") if failed_collection else "",
        },
        notice_key=notice if notice in NOTICES and not errors else "",
    )


def _invalid(call: Call, errors: FormErrors) -> Response:
    return _sharing_page(call, errors=errors, status=400)


@page()
def sharing_page(call: Call) -> Response:
    return _sharing_page(call)


def _chosen_group(call: Call) -> str | None:
    """The name of the group picked in the form's list, if any."""
    value = call.field("group")
    if not value:
        return None
    try:
        return groups.require_group_by_id(call.session, int(value)).name
    except (ValueError, NotFoundError):
        raise ValidationError("choose a group from the list", field="group") from None


@action(invalid=_invalid)
def share(call: Call) -> Response:
    collection_id = _path_id(call, "collection_id")
    assert collection_id is not None  # the route has it
    collection = sharing.require_own_collection(call.session, collection_id, call.viewer.id)
    username = call.field("user") or None
    group = _chosen_group(call)
    if username is None and group is None:
        raise ValidationError("enter a user name or choose a group", field="user")
    if username is not None and group is not None:
        raise ValidationError("share with a user or with a group, not both at once", field="user")
    sharing.share_collection(
        call.session,
        collection.path,
        user=username,
        group=group,
        level=call.field("access"),
        actor=call.actor,
    )
    return redirect(PATH + "?notice=shared")


@action(invalid=_invalid)
def change_access(call: Call) -> Response:
    share_id = _path_id(call, "share_id")
    assert share_id is not None  # the route has it
    sharing.change_share_access(
        call.session, share_id, call.field("access"), owner_id=call.viewer.id, actor=call.actor
    )
    return redirect(PATH + "?notice=changed")


@action(invalid=_invalid)
def remove(call: Call) -> Response:
    share_id = _path_id(call, "share_id")
    assert share_id is not None  # the route has it
    sharing.remove_share(call.session, share_id, owner_id=call.viewer.id, actor=call.actor)
    return redirect(PATH + "?notice=removed")


routes = [
    Route("/sharing", sharing_page, methods=["GET"], name="web_sharing"),
    Route("/sharing/{collection_id:int}/shares", share, methods=["POST"]),
    Route("/sharing/shares/{share_id:int}/access", change_access, methods=["POST"]),
    Route("/sharing/shares/{share_id:int}/remove", remove, methods=["POST"]),
]
