"""The user page (profile, seats, permissions, effective permissions), the
group permissions grid and the licence overview, on a live server."""

from __future__ import annotations

import html
import re
from decimal import Decimal

import pytest

from kmdav.accounts import modules, permissions
from tests.web.conftest import WebClient, WebServer, unique

pytestmark = pytest.mark.live


def _user_id(server: WebServer, name: str) -> int:
    return int(server.user_row(name).id)


def _group_id(server: WebServer, name: str) -> int:
    return int(server.query("SELECT id FROM groups WHERE name = :n", n=name)[0][0])


def _cell(page: str, module: str, action: str) -> list[str]:
    match = re.search(rf'id="eff-{module}-{action}"[^>]*>(.*?)</td>', page, re.S)
    assert match, (module, action)
    return html.unescape(re.sub(r"<[^>]+>", " ", match.group(1))).split()


def _grants(server: WebServer, column: str, subject_id: int) -> set[tuple[str, str]]:
    rows = server.query(
        f"SELECT module, action FROM permissions WHERE {column} = :id",
        id=subject_id,
    )
    return {(row[0], row[1]) for row in rows}


def test_the_users_list_links_to_each_user(web_server: WebServer, admin: WebClient) -> None:
    name = unique("linked")
    admin.create_user(name, "linked-password-1")
    user_id = _user_id(web_server, name)
    assert f'href="/web/admin/users/{user_id}"' in admin.get("/web/admin/users").text
    page = admin.get(f"/web/admin/users/{user_id}")
    assert page.status_code == 200
    assert f"<h1>{name}</h1>" in page.text
    assert admin.get("/web/admin/users/999999").status_code == 404


def test_profile_edit_validates_and_audits(web_server: WebServer, admin: WebClient) -> None:
    name, other = unique("profile"), unique("taken")
    admin.create_user(name, "profile-password-1")
    admin.create_user(other, "taken-password-1", email=f"{other}@example.org")
    path = f"/web/admin/users/{_user_id(web_server, name)}"
    for email, message in (
        ("not-an-address", "e-mail address like"),
        (f"{other.upper()}@EXAMPLE.ORG", "is in use"),
    ):
        refused = admin.post(path, {"display_name": "Kept Name", "email": email})
        assert refused.status_code == 400
        assert message in refused.text
        assert 'value="Kept Name"' in refused.text
    assert web_server.user_row(name).display_name == name
    saved = admin.post(path, {"display_name": "Anna Berger", "email": f"{name}@example.org"})
    assert saved.status_code == 303
    assert "profile was saved" in admin.get(saved.headers["location"]).text
    rows = web_server.query("SELECT display_name, email FROM users WHERE username = :n", n=name)
    assert tuple(rows[0]) == ("Anna Berger", f"{name}@example.org")
    audit = web_server.query(
        "SELECT action, source FROM audit_log WHERE object_id = :n AND action = 'user.update'",
        n=name,
    )
    assert [tuple(row) for row in audit] == [("user.update", "web")]
    # The new address is a login name now.
    client = WebClient(web_server)
    assert client.login(f"{name}@example.org", "profile-password-1").status_code == 303
    client.close()


def test_seats_are_saved_from_the_checkboxes(web_server: WebServer, admin: WebClient) -> None:
    name = unique("seats")
    admin.create_user(name, "seats-password-1")
    user_id = _user_id(web_server, name)
    path = f"/web/admin/users/{user_id}/modules"
    assert admin.post(path, {"modules": ["billing", "sms"]}).status_code == 303
    rows = web_server.query("SELECT module FROM user_modules WHERE user_id = :id", id=user_id)
    assert {row[0] for row in rows} == {"billing", "sms"}
    page = admin.get(f"/web/admin/users/{user_id}").text
    assert 'id="m-billing" name="modules" value="billing" type="checkbox" checked' in page
    assert 'id="m-calendar" name="modules" value="calendar" type="checkbox">' in page
    refused = admin.post(path, {"modules": ["billing", "teleport"]})
    assert refused.status_code == 400
    assert "unknown module" in refused.text
    assert admin.post(path, {}).status_code == 303  # nothing ticked: the base only
    assert (
        web_server.query("SELECT count(*) FROM user_modules WHERE user_id = :id", id=user_id)[0][0]
        == 0
    )
    audit = web_server.query(
        "SELECT action FROM audit_log WHERE object_id = :n AND action LIKE 'seat.%' ORDER BY id",
        n=name,
    )
    assert [row[0] for row in audit].count("seat.remove") == 4  # calendar, tasks, billing, sms


def test_direct_and_group_permissions_and_the_effective_view(
    web_server: WebServer, admin: WebClient
) -> None:
    name = unique("eff")
    admin.create_user(name, "eff-password-1", modules=("sales",))
    user_id = _user_id(web_server, name)
    sales, vienna = unique("Sales"), unique("Vienna")
    admin.post("/web/admin/groups", {"name": sales, "parent": ""})
    sales_id = _group_id(web_server, sales)
    admin.post("/web/admin/groups", {"name": vienna, "parent": str(sales_id)})
    vienna_id = _group_id(web_server, vienna)
    admin.post(f"/web/admin/groups/{vienna_id}/members", {"username": name})

    # The group page: a grid, linked from the tree.
    assert f'href="/web/admin/groups/{sales_id}"' in admin.get("/web/admin/groups").text
    group_page = admin.get(f"/web/admin/groups/{sales_id}")
    assert group_page.status_code == 200
    assert vienna in group_page.text  # the subgroup that inherits
    saved = admin.post(
        f"/web/admin/groups/{sales_id}/permissions",
        {"grant": ["sales:view", "sales:export", "newsletter:create"]},
    )
    assert saved.status_code == 303
    assert _grants(web_server, "group_id", sales_id) == {
        ("sales", "view"),
        ("sales", "export"),
        ("newsletter", "create"),
    }
    assert (
        'value="sales:export" id="g-sales-export"'
        in admin.get(f"/web/admin/groups/{sales_id}").text
    )

    # Direct grants: the whole grid fits in one form.
    every = [f"{m}:{a}" for m in modules.MODULES for a in permissions.ACTIONS]
    path = f"/web/admin/users/{user_id}/permissions"
    assert admin.post(path, {"grant": every}).status_code == 303
    assert len(_grants(web_server, "user_id", user_id)) == len(every)
    assert admin.post(path, {"grant": ["sales:view", "contacts:edit"]}).status_code == 303
    assert _grants(web_server, "user_id", user_id) == {("sales", "view"), ("contacts", "edit")}
    refused = admin.post(path, {"grant": ["sales:fly"]})
    assert refused.status_code == 400
    assert "unknown permission" in refused.text

    page = admin.get(f"/web/admin/users/{user_id}").text
    assert _cell(page, "sales", "view") == ["granted", "direct", f"{sales}", ">", f"{vienna}"]
    assert _cell(page, "sales", "export") == ["granted", f"{sales}", ">", f"{vienna}"]
    assert _cell(page, "newsletter", "create") == ["no", "seat", f"{sales}", ">", f"{vienna}"]
    assert _cell(page, "contacts", "edit") == ["granted", "direct"]
    assert _cell(page, "sales", "delete") == ["—"]
    audit = web_server.query(
        "SELECT count(*) FROM audit_log WHERE object_id = :g AND action = 'permission.grant'",
        g=sales,
    )
    assert audit[0][0] == 3


def test_the_licence_page_shows_the_total(web_server: WebServer, admin: WebClient) -> None:
    admin.create_user(unique("lic"), "licence-password-1", modules=("newsletter",))
    page = admin.get("/web/admin/licence")
    assert page.status_code == 200
    active = web_server.query("SELECT count(*) FROM users WHERE is_active")[0][0]
    seats = web_server.query(
        "SELECT count(*) FROM user_modules JOIN users ON users.id = user_modules.user_id "
        "WHERE users.is_active"
    )[0][0]
    expected = Decimal(15) * active + Decimal(10) * seats
    total = re.search(r'id="licence-total">([^<]+)<', page.text)
    assert total
    assert total.group(1) == f"€{expected:,.2f}"
    assert 'id="licence-newsletter"' in page.text
    assert 'href="/web/admin/licence"' in page.text  # admins find it in the navigation
