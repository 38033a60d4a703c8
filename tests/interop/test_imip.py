"""iMIP (RFC 6047): invitations to people outside kmdav go out by e-mail.

A live server with its job consumer sends through aiosmtpd on 127.0.0.1;
the organizer invites through the ``caldav`` library and imports the
external attendee's answer on the web page.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import caldav
import httpx
import icalendar
import pytest

from tests.databases import throwaway_database
from tests.live import LiveServer, live_server, run_cli
from tests.smtp import SmtpServer, smtp_server
from tests.web.conftest import WebClient, WebServer

pytestmark = [pytest.mark.live]

ORGANIZER = ("olga", "olga-password-1", "olga@example.org")
GUEST = "guest@example.net"
UID = "imip-meeting-1"


@pytest.fixture(scope="module")
def setup(
    backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LiveServer, SmtpServer, WebServer]]:
    workdir = tmp_path_factory.mktemp("imip")
    with smtp_server(workdir) as smtp, throwaway_database(backend, workdir) as url:
        env = {
            "KMDAV_MAIL__HOST": "127.0.0.1",
            "KMDAV_MAIL__PORT": str(smtp.port),
            "KMDAV_MAIL__SECURITY": "none",
            "KMDAV_MAIL__FROM_ADDRESS": "crm@example.com",
            "KMDAV_JOBS__RUN_IN_SERVER": "true",
        }
        with live_server(workdir / "data", url, extra_env=env) as server:
            name, password, email = ORGANIZER
            run_cli(
                "user", "add", name, "--password", password, "--email", email,
                "--data-dir", str(server.data_dir), env=server.env,
            )  # fmt: skip
            yield server, smtp, WebServer(server, url)


def _wait_for_mail(smtp: SmtpServer, count: int) -> list[EmailMessage]:
    deadline = time.monotonic() + 60
    while len(smtp.received) < count:
        assert time.monotonic() < deadline, f"{len(smtp.received)} of {count} mails arrived"
        time.sleep(0.2)
    return [received.message for received in smtp.received]


def _calendar_part(message: EmailMessage) -> tuple[str, icalendar.Calendar]:
    parts = {part.get_content_type(): part for part in message.walk()}
    assert "text/plain" in parts
    part = parts["text/calendar"]
    return str(part.get_param("method")), icalendar.Calendar.from_ical(part.get_content())


def _event(summary: str, sequence: int) -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{UID}\r\nDTSTAMP:20270101T000000Z\r\nDTSTART:20270520T080000Z\r\n"
        f"DTEND:20270520T090000Z\r\nSEQUENCE:{sequence}\r\nSUMMARY:{summary}\r\n"
        f"ORGANIZER;CN=Olga:mailto:{ORGANIZER[2]}\r\n"
        f"ATTENDEE;PARTSTAT=ACCEPTED:mailto:{ORGANIZER[2]}\r\n"
        f"ATTENDEE;CN=Guest;RSVP=TRUE;PARTSTAT=NEEDS-ACTION:mailto:{GUEST}\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def _guest_partstat(calendar: caldav.Calendar) -> str:
    event = calendar.event_by_uid(UID).icalendar_component
    for attendee in event["ATTENDEE"]:
        if str(attendee).lower() == f"mailto:{GUEST}":
            return str(attendee.params["PARTSTAT"])
    raise AssertionError("the guest is gone")


def _reply(partstat: str, *, uid: str = UID, guest: str = GUEST, method: str = "REPLY") -> str:
    return (
        f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//mailer//EN\r\nMETHOD:{method}\r\n"
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20270102T000000Z\r\n"
        "DTSTART:20270520T080000Z\r\nSEQUENCE:0\r\n"
        f"ORGANIZER:mailto:{ORGANIZER[2]}\r\n"
        f"ATTENDEE;PARTSTAT={partstat}:mailto:{guest}\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def test_invitation_reply_and_cancellation_by_mail(
    setup: tuple[LiveServer, SmtpServer, WebServer], tmp_path: Path
) -> None:
    server, smtp, web = setup
    name, password, email = ORGANIZER
    with caldav.DAVClient(url=server.dav, username=name, password=password) as client:
        calendar = client.calendar(url=f"{server.dav}{name}/calendar/")
        calendar.add_event(_event("Kick-off", 0), increase_seqno=False)

        (invitation,) = _wait_for_mail(smtp, 1)
        assert invitation["To"].addresses[0].addr_spec == GUEST
        assert "Kick-off" in str(invitation["Subject"])
        method, ics = _calendar_part(invitation)
        text = next(p for p in invitation.walk() if p.get_content_type() == "text/plain")
        assert "Start: 2027-05-20 08:00 UTC" in text.get_content()
        assert method == "REQUEST"
        assert ics["METHOD"] == "REQUEST"
        event = ics.walk("VEVENT")[0]
        assert str(event["ORGANIZER"]) == f"mailto:{email}"
        assert f"mailto:{GUEST}" in [str(a) for a in event["ATTENDEE"]]
        assert int(event["SEQUENCE"]) == 0
        assert "SCHEDULE-STATUS" not in event.to_ical().decode()
        stored = calendar.event_by_uid(UID).data
        assert "SCHEDULE-STATUS=1.1" in stored.replace("\r\n ", "").replace("\n ", "")

        # The same version again sends nothing; a new SEQUENCE sends again.
        calendar.add_event(_event("Kick-off!", 0), increase_seqno=False)
        jobs = "SELECT count(*) FROM jobs WHERE kind = 'mail.send'"
        assert web.query(jobs)[0][0] == 1
        calendar.add_event(_event("Kick-off, moved", 1), increase_seqno=False)
        _, update = _calendar_part(_wait_for_mail(smtp, 2)[1])
        assert int(update.walk("VEVENT")[0]["SEQUENCE"]) == 1

        # The guest answers by mail; the organizer imports the answer.
        browser = WebClient(web)
        try:
            assert browser.login(name, password).status_code == 303
            page = browser.get("/web/calendar/replies")
            assert page.status_code == 200
            for bad, message in (
                (_reply("ACCEPTED", method="REQUEST"), "not a reply"),
                (_reply("ACCEPTED", uid="nobody-knows"), "None of your appointments"),
                (_reply("ACCEPTED", guest="stranger@example.net"), "was not invited"),
                ("hello", "not an iCalendar file"),
            ):
                refused = browser.post("/web/calendar/replies", {"reply": bad})
                assert refused.status_code == 400, bad
                assert message in refused.text
            assert _guest_partstat(calendar) == "NEEDS-ACTION"

            # The same answers as a file saved from the mail program.
            def upload(text: str) -> httpx.Response:
                return browser.http.post(
                    "/web/calendar/replies/file",
                    files=[
                        ("csrf_token", (None, browser.token())),
                        ("file", ("reply.ics", text.encode(), "text/calendar")),
                    ],
                )

            refused = upload(_reply("ACCEPTED", uid="nobody-knows"))
            assert refused.status_code == 400
            assert "None of your appointments" in refused.text
            assert 'id="e-file"' in refused.text
            assert _guest_partstat(calendar) == "NEEDS-ACTION"
            done = upload(_reply("ACCEPTED"))
            assert done.status_code == 303
            assert "recorded" in browser.get(done.headers["location"]).text
        finally:
            browser.close()
        assert _guest_partstat(calendar) == "ACCEPTED"

        # Deleting the meeting cancels it for the guest.
        calendar.event_by_uid(UID).delete()
        method, cancel = _calendar_part(_wait_for_mail(smtp, 3)[2])
        assert method == "CANCEL"
        assert cancel["METHOD"] == "CANCEL"
        assert str(cancel.walk("VEVENT")[0]["STATUS"]) == "CANCELLED"
