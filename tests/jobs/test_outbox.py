"""mail.send jobs: a purpose sends one message, whatever is retried."""

from __future__ import annotations

from pathlib import Path

import pytest

from kmdav import outbox
from kmdav.db import Database
from kmdav.errors import ValidationError
from kmdav.jobs.runner import RetryLater, run_job
from kmdav.models import Job
from kmdav.settings import MailSettings, Settings
from tests.jobs.conftest import new_key
from tests.live import free_port
from tests.smtp import smtp_server


def _with_mail(settings: Settings, port: int) -> Settings:
    mail = MailSettings(
        host="127.0.0.1", port=port, security="none", from_address="crm@example.com", timeout=5
    )
    return settings.model_copy(update={"mail": mail})


def _queue(database: Database, purpose: str, to: str = "anna@example.org") -> int:
    with database.transaction() as session:
        return outbox.queue_mail(session, purpose=purpose, to=to, subject="Hello", body="Text").id


def _job(database: Database, job_id: int) -> Job:
    with database.transaction("read") as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


def test_a_purpose_is_sent_once(tmp_path: Path, database: Database, job_settings: Settings) -> None:
    purpose = new_key()
    with smtp_server(tmp_path) as server:
        settings = _with_mail(job_settings, server.port)
        job_id = _queue(database, purpose)
        assert _queue(database, purpose) == job_id
        assert run_job(database, settings, job_id) == "done"
        assert run_job(database, settings, job_id) is None
    assert len(server.received) == 1
    job = _job(database, job_id)
    assert job.result["sent"] is True
    assert job.result["to"] == "anna@example.org"
    assert server.received[0].message["Message-ID"] == job.result["message_id"]
    assert (job.done, job.total) == (1, 1)


def test_refused_recipient_fails_the_job_with_the_servers_answer(
    tmp_path: Path, database: Database, job_settings: Settings
) -> None:
    with smtp_server(tmp_path) as server:
        settings = _with_mail(job_settings, server.port)
        job_id = _queue(database, new_key(), to="refused@example.org")
        assert run_job(database, settings, job_id) == "failed"
    job = _job(database, job_id)
    assert "refused the recipient refused@example.org: 550" in job.error
    assert job.attempts == 1


def test_no_server_is_retried_then_sent(
    tmp_path: Path, database: Database, job_settings: Settings
) -> None:
    port = free_port()
    settings = _with_mail(job_settings, port)
    job_id = _queue(database, new_key())
    with pytest.raises(RetryLater):
        run_job(database, settings, job_id)
    job = _job(database, job_id)
    assert job.status == "queued"
    assert "cannot connect to the mail server" in job.error
    with smtp_server(tmp_path) as server:
        assert run_job(database, _with_mail(job_settings, server.port), job_id) == "done"
    assert len(server.received) == 1


def test_an_interrupted_send_is_not_repeated(
    tmp_path: Path, database: Database, job_settings: Settings
) -> None:
    """The process died while handing the message over: the next attempt
    cannot know whether it arrived, so it does not send a second copy."""
    job_id = _queue(database, new_key())
    with database.transaction() as session:
        job = session.get(Job, job_id)
        assert job is not None
        job.status, job.attempts, job.result = "queued", 1, {"sending": True}
    with smtp_server(tmp_path) as server:
        assert run_job(database, _with_mail(job_settings, server.port), job_id) == "failed"
    assert server.received == []
    assert "not sent again" in _job(database, job_id).error


@pytest.mark.parametrize(
    ("to", "subject"),
    [("nobody", "s"), ("a@example.org", "two\nlines"), ("a@example.org", "Bcc: x\r\n")],
)
def test_bad_input_is_refused_before_queueing(database: Database, to: str, subject: str) -> None:
    with pytest.raises(ValidationError), database.transaction() as session:
        outbox.queue_mail(session, purpose=new_key(), to=to, subject=subject, body="b")
