"""Building and sending e-mail against a real SMTP server on 127.0.0.1."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest

from kmdav import mail
from kmdav.errors import ConfigError, MailError, ValidationError
from kmdav.settings import MailSettings
from tests.live import free_port
from tests.smtp import PASSWORD, USER, SmtpServer, smtp_server

SUBJECT = "Grüße aus Wien – Termin 📅"
BODY = "Hallo Jürgen,\n\nein Test mit Umlauten: äöüß.\n\n-- kmdav\n"


def _settings(server: SmtpServer | None, security: str = "none", **more: object) -> MailSettings:
    return MailSettings.model_validate(
        {
            "host": "127.0.0.1",
            "port": server.port if server else free_port(),
            "security": security,
            "from_address": "kmdav CRM <crm@example.com>",
            "timeout": 5,
            "ca_file": server.cert if server and server.cert else None,
            **more,
        }
    )


def _message(settings: MailSettings, to: str = "juergen@example.org") -> mail.EmailMessage:
    return mail.build_message(settings, to=to, to_name="Jürgen Müller", subject=SUBJECT, body=BODY)


def test_build_message_headers() -> None:
    settings = _settings(None)
    when = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
    message = mail.build_message(
        settings,
        to="juergen@example.org",
        to_name="Jürgen Müller",
        subject=SUBJECT,
        body=BODY,
        date=when,
        message_id="<fixed.1@example.com>",
    )
    raw = message.as_bytes()
    assert raw.isascii()  # RFC 2047 words and quoted-printable, no 8-bit data
    assert b"\r\n" in raw
    assert message["Message-ID"] == "<fixed.1@example.com>"
    assert parsedate_to_datetime(message["Date"]) == when
    assert str(message["From"]) == "kmdav CRM <crm@example.com>"
    assert message["Auto-Submitted"] == "auto-generated"
    generated = mail.build_message(settings, to="a@example.org", subject="x", body="y")
    assert generated["Message-ID"].endswith("@example.com>")


@pytest.mark.parametrize(
    "address",
    ["", "no-at-sign", "two@@example.org", "a b@example.org", "x@localhost", "ü@example.org"],
)
def test_bad_addresses_are_refused(address: str) -> None:
    with pytest.raises(ValidationError):
        mail.check_address(address)


def test_missing_sender_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="from_address"):
        mail.build_message(MailSettings(host="h"), to="a@example.org", subject="s", body="b")


def _check_delivery(server: SmtpServer) -> None:
    assert len(server.received) == 1
    got = server.received[0]
    assert got.mail_from == "crm@example.com"
    assert got.rcpt_tos == ["juergen@example.org"]
    message = got.message
    assert message["Subject"] == SUBJECT
    assert message["To"].addresses[0].display_name == "Jürgen Müller"
    assert message["From"].addresses[0].addr_spec == "crm@example.com"
    assert message["Message-ID"].startswith("<")
    assert message.get_content().replace("\r\n", "\n") == BODY  # CRLF on the wire


def test_send_plain(tmp_path: Path) -> None:
    with smtp_server(tmp_path) as server:
        settings = _settings(server)
        mail.send(settings, _message(settings))
    _check_delivery(server)


def test_send_starttls_with_login(tmp_path: Path) -> None:
    with smtp_server(tmp_path, tls="starttls", auth=True) as server:
        settings = _settings(server, "starttls", username=USER, password=PASSWORD)
        mail.send(settings, _message(settings))
    _check_delivery(server)


def test_send_implicit_tls(tmp_path: Path) -> None:
    with smtp_server(tmp_path, tls="tls") as server:
        settings = _settings(server, "tls")
        mail.send(settings, _message(settings))
    _check_delivery(server)


def test_refused_login_is_clear(tmp_path: Path) -> None:
    with smtp_server(tmp_path, tls="starttls", auth=True) as server:
        settings = _settings(server, "starttls", username=USER, password="wrong-password")
        with pytest.raises(MailError, match=r"refused the login of 'mailer': 535") as error:
            mail.send(settings, _message(settings))
    assert error.value.permanent
    assert "wrong-password" not in str(error.value)
    assert server.received == []


def test_refused_recipient_is_clear(tmp_path: Path) -> None:
    with smtp_server(tmp_path) as server:
        settings = _settings(server)
        with pytest.raises(MailError, match=r"refused the recipient refused@example.org: 550"):
            mail.send(settings, _message(settings, to="refused@example.org"))
    assert server.received == []


def test_starttls_required_but_not_offered(tmp_path: Path) -> None:
    with smtp_server(tmp_path) as server:
        settings = _settings(server, "starttls")
        with pytest.raises(MailError, match="does not offer STARTTLS") as error:
            mail.send(settings, _message(settings))
    assert error.value.permanent
    assert server.received == []


def test_untrusted_certificate_is_refused(tmp_path: Path) -> None:
    with smtp_server(tmp_path, tls="tls") as server:
        settings = _settings(server, "tls", ca_file=None)
        with pytest.raises(MailError, match="not trusted"):
            mail.send(settings, _message(settings))
    assert server.received == []


def test_no_server_listening() -> None:
    settings = _settings(None)
    with pytest.raises(MailError, match=r"cannot connect to the mail server 127\.0\.0\.1") as error:
        mail.send(settings, _message(settings))
    assert not error.value.permanent


def test_no_host_configured() -> None:
    settings = MailSettings(from_address="crm@example.com")
    with pytest.raises(MailError, match=r"set \[mail\] host"):
        mail.send(settings, _message(settings))
