"""The one domain error tree.

Services raise these; the web layer and the storage plugin each translate
them to HTTP/DAV responses in exactly one place.
"""

from __future__ import annotations


class KmdavError(Exception):
    """Base of every error kmdav raises on purpose.

    ``message`` is English and may hold ``%(name)s`` placeholders that
    ``params`` fill in; the unfilled text is a gettext msgid, so a face can
    show the error in the reader's language (the web face translates it in
    ``kmdav.faces.web._web``).  Keep values out of the text itself.
    """

    def __init__(self, message: str = "", /, **params: object) -> None:
        super().__init__(message % params if params else message)
        self.message = message
        self.params = params


class ConfigError(KmdavError):
    """The configuration or the environment is unusable (message says why)."""


class ValidationError(KmdavError):
    """Input was rejected; nothing was changed."""

    def __init__(self, message: str, field: str | None = None, **params: object) -> None:
        super().__init__(message, **params)
        self.field = field


class NotFoundError(KmdavError):
    """The object does not exist, or the caller may not know it exists."""


class ConflictError(KmdavError):
    """The write collides with the current state (duplicate, stale version)."""


class UidConflictError(ConflictError):
    """Another item in the collection already carries this UID (RFC 4791 5.3.2.1)."""

    def __init__(self, uid: str, existing_href: str) -> None:
        super().__init__(f"UID {uid!r} is already used by {existing_href!r}")
        self.uid = uid
        self.existing_href = existing_href


class PermissionDeniedError(KmdavError):
    """The caller is not allowed to do this."""


class LastAdminError(PermissionDeniedError):
    """The change would leave no active administrator."""


class MailError(KmdavError):
    """The mail server could not be reached or refused the message.

    ``permanent`` is true when trying again unchanged cannot help (a refused
    login or recipient, a 5xx answer, a missing setting); transient failures
    (no connection, 4xx answers) are worth a retry.
    """

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
