"""``/web/admin/groups/{id}``: a group's permissions as a module x action grid.

What a group is granted reaches the members of the group and of all its
subgroups (``kmdav.accounts.permissions``); the page says where the group
sits in the tree and which subgroups inherit from it.
"""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from kmdav.accounts import groups, modules, permissions
from kmdav.faces.web._web import PREFIX, Call, FormErrors, action, page, redirect
from kmdav.i18n import N_
from kmdav.models import Group

NOTICES = {"permissions": N_("The permissions were saved.")}
PATH = PREFIX + "/admin/groups/{id}"
GRID_FIELDS = len(modules.MODULES) * len(permissions.ACTIONS) + 10


def _target(call: Call) -> Group:
    group_id: int = call.request.path_params["group_id"]
    return groups.require_group_by_id(call.session, group_id)


def _group_page(call: Call, *, errors: FormErrors | None = None, status: int = 200) -> Response:
    group = _target(call)
    flat = groups.flatten(groups.group_tree(call.session))
    node = next(item for item in flat if item.id == group.id)
    return call.render(
        "admin_group.html",
        status,
        group=group,
        path=groups.group_path(call.session, group),
        subgroups=groups.flatten(node.children),
        members=node.members,
        errors=errors or {},
        modules=modules.MODULES,
        actions=permissions.ACTIONS,
        granted={
            f"{module}:{act}" for module, act in permissions.grants_of_group(call.session, group)
        },
        notice=call.notice(NOTICES),
    )


def _invalid(call: Call, errors: FormErrors) -> Response:
    return _group_page(call, errors=errors, status=400)


@page(admin=True)
def group_page(call: Call) -> Response:
    return _group_page(call)


@action(admin=True, invalid=_invalid, max_fields=GRID_FIELDS)
def save_permissions(call: Call) -> Response:
    group = _target(call)
    grants = [permissions.parse_grant(value) for value in call.values("grant")]
    permissions.set_group_grants(call.session, group, grants, actor=call.actor)
    return redirect(PATH.format(id=group.id) + "?notice=permissions")


routes = [
    Route("/admin/groups/{group_id:int}", group_page, methods=["GET"], name="web_admin_group"),
    Route("/admin/groups/{group_id:int}/permissions", save_permissions, methods=["POST"]),
]
