"""Real ``vdirsyncer`` two-way sync between a local vdir and kmdav.

Contacts and calendars are discovered on the server (``collections = ["from
b"]``), the local collections are created without prompting (``implicit =
"create"``), and edits and deletes on both sides must meet in the middle.
"""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.interop.conftest import DavUser, add_user
from tests.live import LiveServer

pytestmark = [pytest.mark.live, pytest.mark.slow]

VDIRSYNCER = str(Path(sys.executable).with_name("vdirsyncer"))


def vcard(uid: str, name: str) -> str:
    return (
        "BEGIN:VCARD\r\nVERSION:3.0\r\n"
        f"UID:{uid}\r\nFN:{name}\r\nN:{name.rsplit(maxsplit=1)[-1]};{name.split(maxsplit=1)[0]};;;\r\n"
        f"EMAIL;TYPE=INTERNET:{uid}@example.org\r\nEND:VCARD\r\n"
    )


def vevent(uid: str, day: int, summary: str) -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//kmdav tests//EN\r\n"
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20250101T000000Z\r\n"
        f"DTSTART:202509{day:02d}T090000Z\r\nDTEND:202509{day:02d}T100000Z\r\n"
        f"SUMMARY:{summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def vtodo(uid: str, summary: str) -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//kmdav tests//EN\r\n"
        f"BEGIN:VTODO\r\nUID:{uid}\r\nDTSTAMP:20250101T000000Z\r\n"
        f"SUMMARY:{summary}\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"
    )


@pytest.fixture(scope="module")
def syncer(kmdav_server: LiveServer) -> DavUser:
    return add_user(kmdav_server, "dave", "dave-password-1")


@pytest.fixture
def http(syncer: DavUser) -> Iterator[httpx.Client]:
    with httpx.Client(auth=syncer.auth, timeout=30) as client:
        yield client


def write_config(tmp_path: Path, user: DavUser) -> Path:
    config = tmp_path / "vdirsyncer.conf"
    storages = ""
    for kind, remote_type, ext in (
        ("contacts", "carddav", ".vcf"),
        ("calendars", "caldav", ".ics"),
    ):
        storages += f"""
[pair {kind}]
a = "{kind}_local"
b = "{kind}_remote"
collections = ["from b"]
implicit = "create"
conflict_resolution = "b wins"
metadata = ["displayname"]

[storage {kind}_local]
type = "filesystem"
path = "{tmp_path / kind}/"
fileext = "{ext}"

[storage {kind}_remote]
type = "{remote_type}"
url = "{user.home}"
username = "{user.name}"
password = "{user.password}"
"""
    config.write_text(f'[general]\nstatus_path = "{tmp_path / "status"}/"\n{storages}')
    return config


def vdirsyncer(config: Path, *args: str) -> str:
    result = subprocess.run(
        [VDIRSYNCER, "-c", str(config), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"vdirsyncer {' '.join(args)} failed:\n{output}"
    assert "error" not in output.lower(), output
    return output


def server_uids(http: httpx.Client, collection: str) -> dict[str, str]:
    """UID -> body of every item in a collection (PROPFIND + GETs)."""
    response = http.request(
        "PROPFIND",
        collection,
        headers={"Depth": "1", "Content-Type": "application/xml"},
        content='<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop>'
        "<D:getetag/></D:prop></D:propfind>",
    )
    assert response.status_code == 207
    bodies = {}
    for href in ET.fromstring(response.content).iter("{DAV:}href"):
        if href.text and not href.text.endswith("/"):
            body = http.get(httpx.URL(collection).join(href.text)).text
            uid = next(line[4:].strip() for line in body.splitlines() if line.startswith("UID:"))
            bodies[uid] = body
    return bodies


def local_uids(directory: Path) -> dict[str, str]:
    bodies = {}
    for path in directory.iterdir():
        if path.name.startswith("."):
            continue
        body = path.read_text()
        uid = next(line[4:].strip() for line in body.splitlines() if line.startswith("UID:"))
        bodies[uid] = body
    return bodies


def local_file(directory: Path, uid: str) -> Path:
    for path in directory.iterdir():
        if f"UID:{uid}\r\n" in path.read_text() or f"UID:{uid}\n" in path.read_text():
            return path
    raise AssertionError(f"no local file with UID {uid} in {directory}")


def test_two_way_sync_of_contacts_and_calendars(
    tmp_path: Path, syncer: DavUser, http: httpx.Client
) -> None:
    put = {"If-None-Match": "*"}
    assert (
        http.put(
            syncer.contacts + "alice.vcf", content=vcard("alice", "Alice Liddell"), headers=put
        ).status_code
        == 201
    )
    assert (
        http.put(
            syncer.contacts + "bert.vcf", content=vcard("bert", "Bert Brecht"), headers=put
        ).status_code
        == 201
    )
    assert (
        http.put(
            syncer.calendar + "e1.ics", content=vevent("e1", 1, "Kick-off"), headers=put
        ).status_code
        == 201
    )
    assert (
        http.put(
            syncer.calendar + "e2.ics", content=vevent("e2", 2, "Review"), headers=put
        ).status_code
        == 201
    )
    assert (
        http.put(
            syncer.tasks + "t1.ics", content=vtodo("t1", "Prepare slides"), headers=put
        ).status_code
        == 201
    )

    config = write_config(tmp_path, syncer)
    vdirsyncer(config, "discover")
    contacts = tmp_path / "contacts" / "contacts"
    calendar = tmp_path / "calendars" / "calendar"
    tasks = tmp_path / "calendars" / "tasks"
    assert contacts.is_dir()
    assert calendar.is_dir()
    assert tasks.is_dir()
    # The shared company book is found too (read-only for this user).
    assert (tmp_path / "contacts" / "company-contacts").is_dir()

    # Local additions before the first sync.
    (contacts / "carla.vcf").write_text(vcard("carla", "Carla Bruni"))
    (calendar / "e3.ics").write_text(vevent("e3", 3, "Local plan"))

    vdirsyncer(config, "sync")
    assert set(local_uids(contacts)) == {"alice", "bert", "carla"}
    assert set(server_uids(http, syncer.contacts)) == {"alice", "bert", "carla"}
    assert set(local_uids(calendar)) == {"e1", "e2", "e3"}
    assert set(server_uids(http, syncer.calendar)) == {"e1", "e2", "e3"}
    assert set(local_uids(tasks)) == {"t1"}
    assert server_uids(http, syncer.contacts)["carla"].replace("\r\n", "\n") == vcard(
        "carla", "Carla Bruni"
    ).replace("\r\n", "\n")

    # Edits and deletes on both sides.
    alice = http.get(syncer.contacts + "alice.vcf")
    assert http.put(
        syncer.contacts + "alice.vcf",
        content=vcard("alice", "Alice Hargreaves"),
        headers={"If-Match": alice.headers["ETag"]},
    ).status_code in (201, 204)
    assert http.delete(syncer.contacts + "bert.vcf").status_code in (200, 204)
    server_e3 = next(href for href in _hrefs(http, syncer.calendar) if "e3" in http.get(href).text)
    assert http.delete(server_e3).status_code in (200, 204)

    local_file(contacts, "carla").write_text(vcard("carla", "Carla Bruni-Sarkozy"))
    local_file(calendar, "e1").unlink()
    local_file(calendar, "e2").write_text(vevent("e2", 2, "Review (moved room)"))
    local_file(tasks, "t1").write_text(vtodo("t1", "Prepare slides and notes"))
    (tasks / "t2.ics").write_text(vtodo("t2", "Book the room"))

    vdirsyncer(config, "sync")

    server_cards = server_uids(http, syncer.contacts)
    local_cards = local_uids(contacts)
    assert set(server_cards) == set(local_cards) == {"alice", "carla"}
    assert "FN:Alice Hargreaves" in local_cards["alice"]
    assert "FN:Carla Bruni-Sarkozy" in server_cards["carla"]

    server_events = server_uids(http, syncer.calendar)
    local_events = local_uids(calendar)
    assert set(server_events) == set(local_events) == {"e2"}
    assert "SUMMARY:Review (moved room)" in server_events["e2"]

    server_tasks = server_uids(http, syncer.tasks)
    assert set(server_tasks) == set(local_uids(tasks)) == {"t1", "t2"}
    assert "SUMMARY:Prepare slides and notes" in server_tasks["t1"]

    # Nothing left to do: a third run changes nothing on the server.
    before = _ctags(http, syncer)
    output = vdirsyncer(config, "sync")
    assert "Copying" not in output, output
    assert "Deleting" not in output, output
    assert _ctags(http, syncer) == before


def _hrefs(http: httpx.Client, collection: str) -> list[str]:
    response = http.request("PROPFIND", collection, headers={"Depth": "1"})
    return [
        str(httpx.URL(collection).join(h.text))
        for h in ET.fromstring(response.content).iter("{DAV:}href")
        if h.text and not h.text.endswith("/")
    ]


def _ctags(http: httpx.Client, user: DavUser) -> list[str]:
    ctags = []
    for url in (user.contacts, user.calendar, user.tasks):
        response = http.request(
            "PROPFIND",
            url,
            headers={"Depth": "0", "Content-Type": "application/xml"},
            content='<?xml version="1.0"?><D:propfind xmlns:D="DAV:" '
            'xmlns:CS="http://calendarserver.org/ns/"><D:prop><CS:getctag/>'
            "<D:sync-token/></D:prop></D:propfind>",
        )
        ctags.append(response.text)
    return ctags
