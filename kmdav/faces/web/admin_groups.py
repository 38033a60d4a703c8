"""``/web/admin/groups``: administrators build the group tree.

Create a group (optionally below another one), add and remove members,
delete a group that has neither subgroups nor members.  A group's shares
reach the members of its subgroups (``kmdav.dav.access``), so a change
here changes what devices see at their next request.
"""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from kmdav.accounts import groups
from kmdav.accounts import service as accounts
from kmdav.errors import ValidationError
from kmdav.faces.web._web import PREFIX, Call, FormErrors, action, page, redirect
from kmdav.i18n import N_
from kmdav.models import Group

PATH = PREFIX + "/admin/groups"
NOTICES = {
    "created": N_("The group was created."),
    "added": N_("The member was added."),
    "removed": N_("The member was removed."),
    "deleted": N_("The group was deleted."),
}


def _group_path_id(call: Call) -> int | None:
    group_id: int | None = call.request.path_params.get("group_id")
    return group_id


def _groups_page(call: Call, *, errors: FormErrors | None = None, status: int = 200) -> Response:
    errors = errors or {}
    creating = bool(errors) and call.request.url.path == PATH
    tree = groups.group_tree(call.session)
    return call.render(
        "admin_groups.html",
        status,
        tree=tree,
        flat=groups.flatten(tree),
        usernames=[user.username for user in accounts.list_users(call.session)],
        errors=errors,
        # The group whose form failed, so its message shows next to it.
        failed_group=_group_path_id(call) if errors else None,
        values={
            "name": call.field("name") if creating else "",
            "description": call.field("description") if creating else "",
            "parent": call.field("parent") if creating else "",
            "username": call.field("username") if errors and not creating else "",
        },
        notice=call.notice(NOTICES),
    )


def _invalid(call: Call, errors: FormErrors) -> Response:
    return _groups_page(call, errors=errors, status=400)


@page(admin=True)
def groups_page(call: Call) -> Response:
    return _groups_page(call)


@action(admin=True, invalid=_invalid)
def create_group(call: Call) -> Response:
    parent_field = call.field("parent")
    parent: str | None = None
    if parent_field:
        if not parent_field.isdigit():
            raise ValidationError("choose a parent group from the list", field="parent")
        parent = groups.require_group_by_id(call.session, int(parent_field)).name
    groups.create_group(
        call.session,
        call.field("name"),
        parent=parent,
        description=call.field("description"),
        actor=call.actor,
    )
    return redirect(PATH + "?notice=created")


def _target(call: Call) -> Group:
    group_id = _group_path_id(call)
    assert group_id is not None  # every route below has it
    return groups.require_group_by_id(call.session, group_id)


@action(admin=True, invalid=_invalid)
def add_member(call: Call) -> Response:
    group = _target(call)
    username = call.field("username")
    if accounts.get_user(call.session, username) is None:
        raise ValidationError("there is no user with that name", field="username")
    groups.add_member(call.session, group.name, username, actor=call.actor)
    return redirect(PATH + "?notice=added")


@action(admin=True, invalid=_invalid)
def remove_member(call: Call) -> Response:
    group = _target(call)
    user_id: int = call.request.path_params["user_id"]
    user = accounts.require_user_by_id(call.session, user_id)
    groups.remove_member(call.session, group.name, user.username, actor=call.actor)
    return redirect(PATH + "?notice=removed")


@action(admin=True, invalid=_invalid)
def delete_group(call: Call) -> Response:
    groups.delete_group(call.session, _target(call).name, actor=call.actor)
    return redirect(PATH + "?notice=deleted")


routes = [
    Route("/admin/groups", groups_page, methods=["GET"], name="web_admin_groups"),
    Route("/admin/groups", create_group, methods=["POST"]),
    Route("/admin/groups/{group_id:int}/members", add_member, methods=["POST"]),
    Route(
        "/admin/groups/{group_id:int}/members/{user_id:int}/remove",
        remove_member,
        methods=["POST"],
    ),
    Route("/admin/groups/{group_id:int}/delete", delete_group, methods=["POST"]),
]
