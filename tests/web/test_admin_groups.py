"""/web/admin/groups on a live server: the tree, memberships, deletion, and
what a membership means for DAV."""

from __future__ import annotations

import re

import httpx
import pytest

from kmdav.dav import sharing
from kmdav.db import Database
from tests.web.conftest import WebClient, WebServer, unique

pytestmark = pytest.mark.live

PATH = "/web/admin/groups"


def _group_id(server: WebServer, name: str) -> int:
    rows = server.query("SELECT id FROM groups WHERE name = :name", name=name)
    assert rows, f"no group {name}"
    return int(rows[0][0])


def _create(admin: WebClient, name: str, parent: str = "", **fields: str) -> httpx.Response:
    response = admin.post(PATH, {"name": name, "parent": parent, **fields})
    assert response.status_code == 303, response.text
    return response


def _members(server: WebServer, group: str) -> list[str]:
    rows = server.query(
        "SELECT users.username FROM group_memberships "
        "JOIN users ON users.id = group_memberships.user_id "
        "JOIN groups ON groups.id = group_memberships.group_id "
        "WHERE groups.name = :name ORDER BY users.username",
        name=group,
    )
    return [row[0] for row in rows]


def test_tree_shows_subgroups_below_their_parent_in_name_order(
    web_server: WebServer, admin: WebClient
) -> None:
    tag = unique("t")
    root = f"{tag}-root"
    _create(admin, root, description="everyone")
    root_id = str(_group_id(web_server, root))
    # Created out of order: the page sorts siblings by name.
    _create(admin, f"{tag}-zeta", root_id)
    _create(admin, f"{tag}-alpha", root_id)
    alpha_id = str(_group_id(web_server, f"{tag}-alpha"))
    _create(admin, f"{tag}-alpha-inner", alpha_id)
    _create(admin, f"{tag}-other")

    page = admin.get(PATH)
    assert page.status_code == 200
    heads = re.findall(
        r'data-depth="(\d+)">\s*<div class="group-head">\s*<h3[^>]*>([^<]+)<', page.text
    )
    mine = [(name, int(depth)) for depth, name in heads if name.startswith(tag)]
    assert mine == [
        (f"{tag}-other", 0),
        (f"{tag}-root", 0),
        (f"{tag}-alpha", 1),
        (f"{tag}-alpha-inner", 2),
        (f"{tag}-zeta", 1),
    ]
    # Subgroups sit inside their parent's list item.
    inner = page.text.index(f"{tag}-alpha-inner</h3>")
    root_item = page.text.index(f'id="group-{root_id}"')
    zeta = page.text.index(f"{tag}-zeta</h3>")
    assert root_item < inner < zeta
    # The parent choice offers every group.
    assert re.search(rf'<option value="{alpha_id}">(\xa0)*{tag}-alpha</option>', page.text)
    audit = web_server.query(
        "SELECT action, source FROM audit_log WHERE object_id = :name", name=f"{tag}-alpha"
    )
    assert [tuple(row) for row in audit] == [("group.create", "web")]


def test_invalid_group_forms_save_nothing(web_server: WebServer, admin: WebClient) -> None:
    name = unique("dup")
    _create(admin, name)
    before = web_server.query("SELECT count(*) FROM groups")[0][0]
    for data, field in (
        ({"name": name, "parent": ""}, "name"),
        ({"name": "   ", "parent": ""}, "name"),
        ({"name": unique("g"), "parent": "not-a-number"}, "parent"),
    ):
        response = admin.post(PATH, data)
        assert response.status_code == 400, data
        assert f'id="e-{field}"' in response.text
    assert admin.post(PATH, {"name": unique("g"), "parent": "999999"}).status_code == 404
    assert web_server.query("SELECT count(*) FROM groups")[0][0] == before


def test_members_are_added_and_removed(
    web_server: WebServer, admin: WebClient, user: tuple[WebClient, str, str]
) -> None:
    _, name, _ = user
    group = unique("team")
    _create(admin, group)
    group_id = _group_id(web_server, group)

    unknown = admin.post(f"{PATH}/{group_id}/members", {"username": "nobody-" + group})
    assert unknown.status_code == 400
    assert f'id="e-member-{group_id}"' in unknown.text
    assert _members(web_server, group) == []

    added = admin.post(f"{PATH}/{group_id}/members", {"username": name})
    assert added.status_code == 303
    assert "member was added" in admin.get(added.headers["location"]).text
    assert _members(web_server, group) == [name]
    # Adding twice changes nothing.
    assert admin.post(f"{PATH}/{group_id}/members", {"username": name}).status_code == 303
    assert _members(web_server, group) == [name]

    user_id = web_server.user_row(name).id
    page = admin.get(PATH)
    remove = f"{PATH}/{group_id}/members/{user_id}/remove"
    assert remove in page.text
    assert admin.post(remove, {}).status_code == 303
    assert _members(web_server, group) == []
    audit = web_server.query(
        "SELECT action FROM audit_log WHERE object_id = :group ORDER BY id", group=group
    )
    assert [row[0] for row in audit] == ["group.create", "group.add_member", "group.remove_member"]


def test_only_empty_groups_are_deleted(
    web_server: WebServer, admin: WebClient, user: tuple[WebClient, str, str]
) -> None:
    _, name, _ = user
    parent, child = unique("parent"), unique("child")
    _create(admin, parent)
    parent_id = _group_id(web_server, parent)
    _create(admin, child, str(parent_id))
    child_id = _group_id(web_server, child)

    refused = admin.post(f"{PATH}/{parent_id}/delete", {})
    assert refused.status_code == 400
    assert f'id="e-group-{parent_id}"' in refused.text
    assert f"has subgroups ({child})" in refused.text

    admin.post(f"{PATH}/{child_id}/members", {"username": name})
    refused = admin.post(f"{PATH}/{child_id}/delete", {})
    assert refused.status_code == 400
    assert "still has 1 member" in refused.text

    user_id = web_server.user_row(name).id
    admin.post(f"{PATH}/{child_id}/members/{user_id}/remove", {})
    assert admin.post(f"{PATH}/{child_id}/delete", {}).status_code == 303
    deleted = admin.post(f"{PATH}/{parent_id}/delete", {})
    assert deleted.status_code == 303
    assert "group was deleted" in admin.get(deleted.headers["location"]).text
    assert web_server.query(
        "SELECT count(*) FROM groups WHERE name IN (:a, :b)", a=parent, b=child
    ) == [(0,)]
    assert admin.post(f"{PATH}/{parent_id}/delete", {}).status_code == 404


def test_membership_in_a_subgroup_reaches_a_calendar_shared_with_the_parent(
    web_server: WebServer, admin: WebClient
) -> None:
    owner, member = unique("owner"), unique("member")
    admin.create_user(owner, "owner-password-1")
    admin.create_user(member, "member-password-1")
    staff, sales = unique("staff"), unique("sales")
    _create(admin, staff)
    _create(admin, sales, str(_group_id(web_server, staff)))
    sales_id = _group_id(web_server, sales)

    home = f"{web_server.url}/dav/{owner}/"
    depth1 = {"Depth": "1"}
    # The owner's first visit makes their collections.
    first = httpx.request("PROPFIND", home, headers=depth1, auth=(owner, "owner-password-1"))
    assert first.status_code == 207
    assert f"/dav/{owner}/calendar/" in first.text
    database = Database(web_server.database_url)
    database.open()
    try:
        with database.transaction() as session:
            sharing.share_collection(session, f"{owner}/calendar", group=staff, level="read")
    finally:
        database.close()

    def listing() -> str:
        response = httpx.request(
            "PROPFIND",
            f"{web_server.url}/dav/{member}/",
            headers=depth1,
            auth=(member, "member-password-1"),
        )
        assert response.status_code == 207
        return response.text

    shared = f"/dav/{member}/{owner}-calendar/"
    assert shared not in listing()
    assert admin.post(f"{PATH}/{sales_id}/members", {"username": member}).status_code == 303
    assert shared in listing()
    member_id = web_server.user_row(member).id
    removed = admin.post(f"{PATH}/{sales_id}/members/{member_id}/remove", {})
    assert removed.status_code == 303
    assert shared not in listing()
