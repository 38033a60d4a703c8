"""E-mail reminders: one mail per occurrence, however often the scan runs."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from kmdav import audit
from kmdav.accounts import service as accounts
from kmdav.dav import repository, service
from kmdav.db import Database
from kmdav.jobs.runner import run_job
from kmdav.models import Job
from kmdav.scheduling import reminders
from kmdav.settings import MailSettings, Settings
from tests.smtp import smtp_server

START = datetime(2031, 3, 3, 9, 0, tzinfo=UTC)  # a Monday


def _event(uid: str, *, extra: str) -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20310101T000000Z\r\nDTSTART:20310303T090000Z\r\n"
        f"DTEND:20310303T100000Z\r\nSUMMARY:Weekly review\r\n{extra}"
        "BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT5M\r\nDESCRIPTION:x\r\nEND:VALARM\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def _user_with_event(database: Database, *, wants_mail: bool, extra: str) -> tuple[int, str]:
    name = "rem" + secrets.token_hex(4)
    uid = f"{name}-series"
    with database.transaction() as session:
        user = accounts.create_user(
            session, name, "password-123", email=f"{name}@example.org", modules=["calendar"]
        )
        reminders.set_email_reminders(session, user, wants_mail, audit.SYSTEM)
        calendar = repository.get_collection(session, f"{name}/calendar")
        assert calendar is not None
        text = _event(uid, extra=extra)
        end = int((START + timedelta(days=400)).timestamp())
        obj = service.DavObject(text, uid, "VEVENT", int(START.timestamp()), end)
        service.store_item(session, calendar, f"{uid}.ics", obj)
        return user.id, uid


def _jobs(database: Database, user_id: int) -> list[Job]:
    with database.transaction("read") as session:
        query = select(Job).where(Job.kind == "mail.send", Job.created_by == user_id)
        return list(session.scalars(query.order_by(Job.id)))


def test_a_reminder_is_sent_once_per_occurrence(
    tmp_path: Path, database: Database, job_settings: Settings
) -> None:
    user_id, _ = _user_with_event(
        database,
        wants_mail=True,
        extra="RRULE:FREQ=WEEKLY;COUNT=3\r\nX-KMDAV-EMAIL-REMINDER:PT15M\r\n",
    )
    before_first = START - timedelta(minutes=16)
    with database.transaction() as session:
        reminders.scan(session, before_first)
    assert _jobs(database, user_id) == []

    first_due = START - timedelta(minutes=14)
    for _ in range(2):  # a second scan (or a second worker) queues nothing new
        with database.transaction() as session:
            reminders.scan(session, first_due)
    jobs = _jobs(database, user_id)
    assert len(jobs) == 1
    assert "Weekly review" in jobs[0].payload["subject"]

    mail = MailSettings(host="127.0.0.1", security="none", from_address="crm@example.com")
    with smtp_server(tmp_path) as server:
        settings = job_settings.model_copy(
            update={"mail": mail.model_copy(update={"port": server.port})}
        )
        assert run_job(database, settings, jobs[0].id) == "done"
        with database.transaction() as session:
            reminders.scan(session, first_due + timedelta(minutes=1))
        assert len(_jobs(database, user_id)) == 1

        # The next week's occurrence is its own reminder.
        with database.transaction() as session:
            reminders.scan(session, first_due + timedelta(days=7))
        jobs = _jobs(database, user_id)
        assert len(jobs) == 2
        assert run_job(database, settings, jobs[1].id) == "done"
    assert len(server.received) == 2
    assert {r.rcpt_tos[0] for r in server.received} == {jobs[0].payload["to"]}


def test_no_mail_without_the_setting_or_the_property(database: Database) -> None:
    quiet_id, _ = _user_with_event(
        database, wants_mail=False, extra="X-KMDAV-EMAIL-REMINDER:PT15M\r\n"
    )
    plain_id, _ = _user_with_event(database, wants_mail=True, extra="")
    with database.transaction() as session:
        reminders.scan(session, START - timedelta(minutes=10))
    assert _jobs(database, quiet_id) == []
    assert _jobs(database, plain_id) == []
