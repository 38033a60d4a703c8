"""What a device needs to set itself up: a QR code for DAVx5 and an Apple
configuration profile.

Both are built from the address the browser used (scheme, host, port), so
they point wherever this page was opened from.  Neither holds a password
unless the caller passes one that was made for this very answer.
"""

from __future__ import annotations

import plistlib
import uuid
from dataclasses import dataclass
from urllib.parse import quote

import segno
from starlette.requests import Request

#: QR modules in pixels, and the quiet zone around the code in modules.
QR_SCALE = 5
QR_BORDER = 4
PROFILE_MEDIA_TYPE = "application/x-apple-aspen-config"


@dataclass(frozen=True)
class Server:
    """Where devices reach the DAV server."""

    scheme: str
    host: str
    port: int

    @classmethod
    def of(cls, request: Request) -> Server:
        scheme = request.url.scheme
        port = request.url.port or (443 if scheme == "https" else 80)
        return cls(scheme, request.url.hostname or "localhost", port)

    @property
    def secure(self) -> bool:
        return self.scheme == "https"

    @property
    def netloc(self) -> str:
        default = 443 if self.secure else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"

    def principal_url(self, username: str) -> str:
        return f"{self.scheme}://{self.netloc}/dav/{quote(username, safe='')}/"


def davx5_uri(server: Server, username: str) -> str:
    """The login link DAVx5 (and other CalDAV/CardDAV apps on Android)
    open: ``caldavs://`` stands for HTTPS, ``caldav://`` for plain HTTP;
    the user name rides in the user-info part, a password never does."""
    scheme = "caldavs" if server.secure else "caldav"
    return f"{scheme}://{quote(username, safe='')}@{server.netloc}/dav/"


def qr_svg(text: str, title: str) -> str:
    """``text`` as a QR code: an inline ``<svg>`` element (no script, no
    style attribute, so it passes the content security policy)."""
    code = segno.make_qr(text, error="m", boost_error=False)
    svg: str = code.svg_inline(
        scale=QR_SCALE, border=QR_BORDER, svgclass="qr", lineclass=None, title=title
    )
    return svg


def _identifier(server: Server, username: str) -> str:
    """Stable per server and user, so installing a newer profile replaces
    the older one instead of adding a second pair of accounts."""
    host = ".".join(reversed(server.host.strip("[]").replace(":", "-").split(".")))
    return f"{host}.kmdav.{username}"


def apple_profile(
    server: Server, username: str, *, password: str | None = None, description: str = ""
) -> bytes:
    """A ``.mobileconfig`` that adds a CardDAV and a CalDAV account.

    Without ``password`` the device asks for one when the profile is
    installed; with it, the app password sits in the (unsigned) file.
    """
    base = _identifier(server, username)
    label = description or f"kmdav {username}"
    accounts = []
    for kind, payload_type in (
        ("CardDAV", "com.apple.carddav.account"),
        ("CalDAV", "com.apple.caldav.account"),
    ):
        payload: dict[str, object] = {
            "PayloadType": payload_type,
            "PayloadVersion": 1,
            "PayloadIdentifier": f"{base}.{kind.lower()}",
            "PayloadUUID": str(uuid.uuid4()).upper(),
            "PayloadDisplayName": f"{label} ({'contacts' if kind == 'CardDAV' else 'calendars'})",
            f"{kind}AccountDescription": label,
            f"{kind}HostName": server.host,
            f"{kind}Port": server.port,
            f"{kind}UseSSL": server.secure,
            f"{kind}PrincipalURL": server.principal_url(username),
            f"{kind}Username": username,
        }
        if password is not None:
            payload[f"{kind}Password"] = password
        accounts.append(payload)
    profile = {
        "PayloadType": "Configuration",
        "PayloadVersion": 1,
        "PayloadIdentifier": base,
        "PayloadUUID": str(uuid.uuid4()).upper(),
        "PayloadDisplayName": label,
        "PayloadDescription": "Contacts and calendars of "
        f"{username} on {server.netloc}, kept in sync over CardDAV and CalDAV.",
        "PayloadRemovalDisallowed": False,
        "PayloadContent": accounts,
    }
    return plistlib.dumps(profile, fmt=plistlib.FMT_XML)


def profile_filename(server: Server, username: str) -> str:
    """A file name safe for a Content-Disposition header."""
    safe = "".join(
        c if (c.isascii() and c.isalnum()) or c in "-." else "-"
        for c in f"{username}-{server.host}"
    )
    return f"kmdav-{safe}.mobileconfig"
