"""Outgoing e-mail: build a message, send it over SMTP.

:func:`build_message` is pure: an :class:`~email.message.EmailMessage` with
From, To, Subject, Date and Message-ID, UTF-8 text (RFC 6532 is not
assumed: non-ASCII headers are RFC 2047 encoded-words, the body is
quoted-printable).  :func:`send` talks to the server configured in
``[mail]`` with the configured security and turns every way SMTP can fail
into one :class:`~kmdav.errors.MailError` with a message an admin can act on.
Certificates are always verified (``[mail] ca_file`` adds a private CA).

Sending from the web goes through a job (:mod:`kmdav.outbox`), never here
directly, so a retried request cannot send twice.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid, parseaddr

from kmdav.errors import ConfigError, MailError, ValidationError
from kmdav.settings import MailSettings

# Deliberately simple: one @, no spaces or angle brackets, a dotted domain.
# The server is the judge of the rest; this only catches typos early.
_ADDRESS = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\".]{2,}$")


def check_address(value: str, field: str = "to") -> str:
    """``value`` as a bare e-mail address, or :class:`ValidationError`."""
    address = value.strip()
    if not address:
        raise ValidationError("Enter an e-mail address.", field=field)
    if len(address) > 254 or not _ADDRESS.match(address) or not address.isascii():
        raise ValidationError("%(address)r is not an e-mail address.", field=field, address=address)
    return address


def sender(settings: MailSettings) -> Address:
    """The configured From: address (``"Name <addr>"`` or a bare address)."""
    name, address = parseaddr(settings.from_address)
    if not address:
        raise ConfigError("no sender address: set [mail] from_address")
    try:
        check_address(address, "from_address")
    except ValidationError as error:
        raise ConfigError(f"[mail] from_address: {error}") from error
    local, _, domain = address.rpartition("@")
    return Address(display_name=name, username=local, domain=domain)


def build_message(
    settings: MailSettings,
    *,
    to: str,
    subject: str,
    body: str,
    to_name: str = "",
    message_id: str | None = None,
    date: datetime | None = None,
    calendar: tuple[str, str] | None = None,
) -> EmailMessage:
    """A plain-text UTF-8 message from the configured sender to ``to``.

    ``calendar`` is (iCalendar text, iTIP method): the message then carries
    it as a ``text/calendar; method=...`` alternative to the text, as iMIP
    wants (RFC 6047 2.4), so mail programs offer to accept or decline.
    """
    from_address = sender(settings)
    local, _, domain = check_address(to).rpartition("@")
    message = EmailMessage(policy=SMTP)
    message["From"] = from_address
    message["To"] = Address(display_name=to_name, username=local, domain=domain)
    message["Subject"] = subject
    message["Date"] = format_datetime(date or datetime.now(UTC))
    message["Message-ID"] = message_id or make_msgid(domain=from_address.domain)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies
    message.set_content(body, charset="utf-8", cte="quoted-printable")
    if calendar is not None:
        text, method = calendar
        message.add_alternative(
            text,
            subtype="calendar",
            charset="utf-8",
            cte="quoted-printable",
            params={"method": method},
        )
    return message


def send(settings: MailSettings, message: EmailMessage) -> None:
    """Deliver ``message`` to the configured server, or raise :class:`MailError`."""
    if not settings.host:
        raise MailError("no mail server configured: set [mail] host", permanent=True)
    try:
        refused = _deliver(settings, message)
    except MailError:
        raise
    except smtplib.SMTPException as error:
        raise _smtp_failure(settings, error) from error
    except OSError as error:  # ssl.SSLError, timeouts and refused connections are OSErrors
        raise _connection_failure(settings, error) from error
    if refused:
        # Only some recipients were refused; with one recipient this cannot happen.
        raise MailError(f"the mail server refused: {', '.join(refused)}", permanent=True)


def _deliver(settings: MailSettings, message: EmailMessage) -> dict[str, tuple[int, bytes]]:
    """One SMTP conversation; the recipients the server refused."""
    with _connect(settings) as client:
        client.ehlo()
        if settings.security == "starttls":
            if not client.has_extn("starttls"):
                raise MailError(
                    f"the mail server {_where(settings)} does not offer STARTTLS, which "
                    "[mail] security = starttls requires",
                    permanent=True,
                )
            client.starttls(context=_tls_context(settings))
            client.ehlo()
        if settings.username:
            client.login(settings.username, settings.password.get_secret_value())
        return client.send_message(message)


def _smtp_failure(settings: MailSettings, error: smtplib.SMTPException) -> MailError:
    where = _where(settings)
    if isinstance(error, smtplib.SMTPAuthenticationError):
        return MailError(
            f"the mail server {where} refused the login of {settings.username!r}: "
            f"{_reply(error.smtp_code, error.smtp_error)}",
            permanent=True,
        )
    if isinstance(error, smtplib.SMTPNotSupportedError):
        return MailError(
            f"the mail server {where} does not support {error} (check [mail] security "
            "and username)",
            permanent=True,
        )
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        code, reason = next(iter(error.recipients.values()))
        return MailError(
            f"the mail server refused the recipient {', '.join(error.recipients)}: "
            f"{_reply(code, reason)}",
            permanent=code >= 500,
        )
    if isinstance(error, smtplib.SMTPResponseException):
        what = (
            f"refused the sender {error.sender}:"
            if isinstance(error, smtplib.SMTPSenderRefused)
            else "answered"
        )
        return MailError(
            f"the mail server {where} {what} {_reply(error.smtp_code, error.smtp_error)}",
            permanent=error.smtp_code >= 500,
        )
    if isinstance(error, smtplib.SMTPServerDisconnected):
        return MailError(f"the mail server {where} closed the connection: {error}")
    return MailError(f"sending through {where} failed: {error}")


def _connection_failure(settings: MailSettings, error: OSError) -> MailError:
    where = _where(settings)
    if isinstance(error, ssl.SSLCertVerificationError):
        return MailError(
            f"the certificate of the mail server {where} is not trusted: "
            f"{error.verify_message} (set [mail] ca_file for a private CA)",
            permanent=True,
        )
    if isinstance(error, ssl.SSLError):
        return MailError(f"TLS with the mail server {where} failed: {error.reason or error}")
    if isinstance(error, TimeoutError):
        return MailError(f"the mail server {where} did not answer within {settings.timeout:g} s")
    return MailError(f"cannot connect to the mail server {where}: {error.strerror or error}")


def _where(settings: MailSettings) -> str:
    return f"{settings.host}:{settings.port}"


def _connect(settings: MailSettings) -> smtplib.SMTP:
    if settings.security == "tls":
        return smtplib.SMTP_SSL(
            settings.host, settings.port, timeout=settings.timeout, context=_tls_context(settings)
        )
    return smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)


def _tls_context(settings: MailSettings) -> ssl.SSLContext:
    cafile = str(settings.ca_file) if settings.ca_file else None
    try:
        return ssl.create_default_context(cafile=cafile)
    except (OSError, ssl.SSLError) as error:
        raise MailError(
            f"cannot read [mail] ca_file {settings.ca_file}: {error}", permanent=True
        ) from error


def _reply(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {' '.join(text.split())}"
