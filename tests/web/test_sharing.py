"""/web/sharing on a live server: share through the form, and what a DAV
client of the other user sees at its next request."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.dav.cards import event
from tests.web.conftest import WebClient, WebServer, unique

pytestmark = pytest.mark.live

PATH = "/web/sharing"
PASSWORD = "share-password-1"


@dataclass
class Person:
    web: WebClient
    name: str


@pytest.fixture
def people(web_server: WebServer, admin: WebClient) -> Iterator[dict[str, Person]]:
    """Two fresh users, ``owner`` and ``other``, each logged in on the web."""
    people = {}
    for role in ("owner", "other"):
        name = unique(role)
        admin.create_user(name, PASSWORD)
        client = WebClient(web_server)
        assert client.login(name, PASSWORD).status_code == 303
        people[role] = Person(client, name)
    yield people
    for person in people.values():
        person.web.close()


def _collection_id(server: WebServer, path: str) -> int:
    rows = server.query("SELECT id FROM dav_collections WHERE path = :path", path=path)
    assert rows, f"no collection {path}"
    return int(rows[0][0])


def _shares(server: WebServer, path: str) -> list[tuple[str | None, str | None, str]]:
    rows = server.query(
        "SELECT users.username, groups.name, collection_shares.access FROM collection_shares "
        "JOIN dav_collections ON dav_collections.id = collection_shares.collection_id "
        "LEFT JOIN users ON users.id = collection_shares.user_id "
        "LEFT JOIN groups ON groups.id = collection_shares.group_id "
        "WHERE dav_collections.path = :path ORDER BY collection_shares.id",
        path=path,
    )
    return [tuple(row) for row in rows]


def _share_id(server: WebServer, path: str) -> int:
    rows = server.query(
        "SELECT collection_shares.id FROM collection_shares "
        "JOIN dav_collections ON dav_collections.id = collection_shares.collection_id "
        "WHERE dav_collections.path = :path",
        path=path,
    )
    assert len(rows) == 1
    return int(rows[0][0])


def _dav(
    server: WebServer, user: str, method: str, path: str, content: str | None = None
) -> httpx.Response:
    """One DAV request as ``user`` with their account password."""
    headers = {"Depth": "1"}
    if content is not None:
        headers["Content-Type"] = "text/calendar"
    return httpx.request(
        method,
        f"{server.url}/dav/{path}",
        content=content,
        headers=headers,
        auth=(user, PASSWORD),
        timeout=30,
    )


def _home_listing(server: WebServer, user: str) -> str:
    response = _dav(server, user, "PROPFIND", f"{user}/")
    assert response.status_code == 207
    return response.text


def test_page_lists_own_collections_and_is_in_the_navigation(
    web_server: WebServer, people: dict[str, Person]
) -> None:
    owner = people["owner"]
    page = owner.web.get(PATH)
    assert page.status_code == 200
    assert '<a href="/web/sharing" aria-current="page">Sharing</a>' in page.text
    for path, label, kind in (
        ("contacts", "Contacts", "Address book"),
        ("calendar", "Calendar", "Calendar"),
        ("tasks", "Tasks", "Task list"),
    ):
        collection_id = _collection_id(web_server, f"{owner.name}/{path}")
        assert f'id="collection-{collection_id}"' in page.text
        assert f'id="c-{collection_id}-title" class="share-name">{label}</h3>' in page.text
        assert f'<span class="tag kind">{kind}</span>' in page.text
    assert "Not shared." in page.text
    assert "Nobody has shared anything with you yet." in page.text
    anonymous = httpx.get(web_server.url + PATH, follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/web/login?next=/web/sharing"


def test_a_share_reaches_the_other_users_dav_home_at_once_and_ends_when_removed(
    web_server: WebServer, people: dict[str, Person]
) -> None:
    owner, other = people["owner"], people["other"]
    owner_name, other_name = owner.name, other.name
    calendar = f"{owner_name}/calendar"
    put = _dav(
        web_server,
        owner_name,
        "PUT",
        f"{calendar}/kickoff.ics",
        content=event("kickoff", summary="Kick-off"),
    )
    assert put.status_code == 201
    alias = f"{other_name}/{owner_name}-calendar"
    assert f"/dav/{alias}/" not in _home_listing(web_server, other_name)

    shared = owner.web.post(
        f"{PATH}/{_collection_id(web_server, calendar)}/shares",
        {"user": other_name, "group": "", "access": "read"},
    )
    assert shared.status_code == 303
    assert _shares(web_server, calendar) == [(other_name, None, "read")]
    page = owner.web.get(shared.headers["location"])
    assert "Devices see it at their next sync." in page.text
    assert f"user {other_name}" in page.text

    # The very next DAV request of the other user sees the alias, read-only.
    assert f"/dav/{alias}/" in _home_listing(web_server, other_name)
    assert "Kick-off" in _dav(web_server, other_name, "GET", f"{alias}/kickoff.ics").text
    mine = event("from-other", summary="Mine")
    refused = _dav(web_server, other_name, "PUT", f"{alias}/mine.ics", content=mine)
    assert refused.status_code == 403
    listed = other.web.get(PATH).text
    assert f'<td data-label="Owner">{owner_name}</td>' in listed
    assert '<td data-label="Access">read</td>' in listed
    assert "you directly" in listed
    assert f"<code>{owner_name}-calendar</code>" in listed

    # Read and write: the other user's PUT lands in the owner's calendar.
    share_id = _share_id(web_server, calendar)
    changed = owner.web.post(f"{PATH}/shares/{share_id}/access", {"access": "write"})
    assert changed.status_code == 303
    assert "access level was changed" in owner.web.get(changed.headers["location"]).text
    assert _shares(web_server, calendar) == [(other_name, None, "write")]
    written = _dav(web_server, other_name, "PUT", f"{alias}/mine.ics", content=mine)
    assert written.status_code == 201
    assert "Mine" in _dav(web_server, owner_name, "GET", f"{calendar}/mine.ics").text

    removed = owner.web.post(f"{PATH}/shares/{share_id}/remove", {})
    assert removed.status_code == 303
    assert _shares(web_server, calendar) == []
    assert f"/dav/{alias}/" not in _home_listing(web_server, other_name)
    gone = _dav(web_server, other_name, "GET", f"{alias}/kickoff.ics")
    assert gone.status_code in (403, 404)
    assert "Kick-off" not in gone.text

    audit = web_server.query(
        "SELECT action, source, actor_name FROM audit_log WHERE object_id = :path ORDER BY id",
        path=calendar,
    )
    assert [tuple(row) for row in audit] == [
        ("collection.share", "web", owner_name),
        ("collection.share_access", "web", owner_name),
        ("collection.unshare", "web", owner_name),
    ]


def test_a_share_with_a_parent_group_reaches_members_of_its_subgroups(
    web_server: WebServer, admin: WebClient, people: dict[str, Person]
) -> None:
    owner, other = people["owner"], people["other"]
    owner_name, other_name = owner.name, other.name
    parent, child = unique("staff"), unique("sales")
    assert admin.post("/web/admin/groups", {"name": parent, "parent": ""}).status_code == 303
    parent_id = web_server.query("SELECT id FROM groups WHERE name = :n", n=parent)[0][0]
    created = admin.post("/web/admin/groups", {"name": child, "parent": str(parent_id)})
    assert created.status_code == 303
    child_id = web_server.query("SELECT id FROM groups WHERE name = :n", n=child)[0][0]
    added = admin.post(f"/web/admin/groups/{child_id}/members", {"username": other_name})
    assert added.status_code == 303

    book = f"{owner_name}/contacts"
    page = owner.web.get(PATH).text
    assert f'<option value="{parent_id}">{parent}</option>' in page
    assert f'<option value="{child_id}">\xa0\xa0{child}</option>' in page
    shared = owner.web.post(
        f"{PATH}/{_collection_id(web_server, book)}/shares",
        {"user": "", "group": str(parent_id), "access": "write"},
    )
    assert shared.status_code == 303
    assert _shares(web_server, book) == [(None, parent, "write")]
    assert f"group {parent}" in owner.web.get(PATH).text

    assert f"/dav/{other_name}/{owner_name}-contacts/" in _home_listing(web_server, other_name)
    listed = other.web.get(PATH).text
    assert f"group {parent}" in listed
    assert '<td data-label="Access">read and write</td>' in listed
    assert '<td data-label="Kind">Address book</td>' in listed


def test_invalid_share_forms_show_the_error_next_to_the_field_and_store_nothing(
    web_server: WebServer, people: dict[str, Person]
) -> None:
    owner, other = people["owner"], people["other"]
    owner_name = owner.name
    calendar = f"{owner_name}/calendar"
    collection_id = _collection_id(web_server, calendar)
    url = f"{PATH}/{collection_id}/shares"
    cases = [
        ({"user": "nobody-" + owner_name, "group": "", "access": "read"}, "user", "no user named"),
        ({"user": owner_name, "group": "", "access": "read"}, "user", "not shared with its owner"),
        ({"user": "", "group": "999999", "access": "read"}, "group", "choose a group"),
        ({"user": "", "group": "staff", "access": "read"}, "group", "choose a group"),
        ({"user": other.name, "group": "", "access": "admin"}, "level", "access is"),
        ({"user": "", "group": "", "access": "read"}, "user", "enter a user name"),
    ]
    for data, field, message in cases:
        response = owner.web.post(url, data)
        assert response.status_code == 400, data
        assert f'id="e-{field}-{collection_id}"' in response.text, data
        assert message in response.text, data
        # The typed user name comes back in its field; nothing else is reflected.
        if data["user"]:
            assert f'value="{data["user"]}"' in response.text
    assert _shares(web_server, calendar) == []

    owner.web.post(url, {"user": other.name, "group": "", "access": "read"})
    share_id = _share_id(web_server, calendar)
    wrong_level = owner.web.post(f"{PATH}/shares/{share_id}/access", {"access": "everything"})
    assert wrong_level.status_code == 400
    assert f'id="e-share-{share_id}"' in wrong_level.text
    assert _shares(web_server, calendar) == [(other.name, None, "read")]


def test_only_the_owner_shares_changes_or_removes(
    web_server: WebServer, people: dict[str, Person]
) -> None:
    owner, other = people["owner"], people["other"]
    owner_name, other_name = owner.name, other.name
    calendar = f"{owner_name}/calendar"
    collection_id = _collection_id(web_server, calendar)
    owner.web.post(
        f"{PATH}/{collection_id}/shares", {"user": other_name, "group": "", "access": "read"}
    )
    share_id = _share_id(web_server, calendar)
    company = web_server.query("SELECT id FROM dav_collections WHERE owner_id IS NULL")
    attempts = [
        (f"{PATH}/{collection_id}/shares", {"user": other_name, "group": "", "access": "write"}),
        (f"{PATH}/shares/{share_id}/access", {"access": "write"}),
        (f"{PATH}/shares/{share_id}/remove", {}),
        *[(f"{PATH}/{row[0]}/shares", {"user": other_name, "access": "write"}) for row in company],
    ]
    for path, data in attempts:
        assert other.web.post(path, data).status_code == 404, path
    assert _shares(web_server, calendar) == [(other_name, None, "read")]
    # The other user's page offers nothing of the owner's to change.
    assert f"/web/sharing/shares/{share_id}/" not in other.web.get(PATH).text
