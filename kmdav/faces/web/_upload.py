"""File uploads for web forms: multipart, streamed to a file, CSRF first.

:func:`upload_action` is :func:`kmdav.faces.web._web.action` for a form
with one file field (``enctype="multipart/form-data"``):

- the body is parsed as it arrives (``python_multipart``); the file part is
  written straight to a new file in the folder the page names, never held
  in memory, and refused with 413 once it passes ``[web]
  upload_max_bytes`` (the partial file is removed);
- the CSRF token is checked *before anything is written*: the form carries
  the token field before the file field (browsers send fields in document
  order), and a file part that arrives before a valid token ends the
  request with 403 and nothing stored;
- the handler then runs like an ``action()`` handler: login and seat
  checks, one write transaction in a worker thread, domain errors
  translated (a ``ValidationError`` renders the form again with status 400),
  and ``call.upload`` tells it where the file is.  When the handler fails
  the file is removed; when it succeeds, the file belongs to it.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from kmdav.errors import KmdavError, NotFoundError, ValidationError
from kmdav.faces.web._session import CSRF_FIELD
from kmdav.faces.web._web import (
    Call,
    Handler,
    InvalidHandler,
    Web,
    _admit,
    _known_module,
    _refused,
    checked_session,
    csrf_refused,
    error_page,
    web_of,
)
from kmdav.i18n import N_

logger = logging.getLogger(__name__)

#: Text fields of an upload form: few and short.
MAX_FIELDS = 20
MAX_FIELD_BYTES = 64 * 1024
TOO_LARGE = N_("The file is larger than %(limit)s MB, the most this server accepts.")


@dataclass(frozen=True)
class Upload:
    """The file a form sent: where it is stored and what the browser called it."""

    path: Path
    filename: str
    size: int
    content_type: str


class _Refused(Exception):
    def __init__(self, status: int, message: str, **params: object) -> None:
        super().__init__(message)
        self.status = status
        self.error = KmdavError(message, **params) if params else message


class _Receiver:
    """Callbacks of the multipart parser: fields into memory, the file to disk."""

    def __init__(self, web: Web, request: Request, folder: Path, limit: int) -> None:
        self.web = web
        self.request = request
        self.folder = folder
        self.limit = limit
        self.fields: list[tuple[str, str | UploadFile]] = []
        self.upload: Upload | None = None
        self.csrf_ok = False
        self._headers: dict[bytes, bytes] = {}
        self._header_name = b""
        self._header_value = b""
        self._name = ""
        self._filename: str | None = None
        self._content_type = ""
        self._value = bytearray()
        self._file: object | None = None
        self._path: Path | None = None
        self._size = 0

    # -- parser callbacks --

    def on_part_begin(self) -> None:
        self._headers = {}
        self._name, self._filename, self._value = "", None, bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[self._header_name.lower()] = self._header_value
        self._header_name = self._header_value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._name = options.get(b"name", b"").decode("utf-8", "replace")
        filename = options.get(b"filename")
        if filename is None:
            if len(self.fields) >= MAX_FIELDS:
                raise _Refused(400, N_("The form has too many fields."))
            return
        if not self.csrf_ok:
            # Nothing is written for a form whose token was not seen first.
            raise _Refused(403, "csrf")
        if self.upload is not None or self._file is not None:
            raise _Refused(400, N_("Send one file at a time."))
        self._filename = os.path.basename(filename.decode("utf-8", "replace").replace("\\", "/"))
        self._content_type = self._headers.get(b"content-type", b"").decode("latin-1")
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._path = self.folder / ("upload-" + secrets.token_hex(16))
        self._file = self._path.open("xb")
        self._size = 0

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._file is not None:
            self._size += end - start
            if self._size > self.limit:
                raise _Refused(413, TOO_LARGE, limit=f"{self.limit / 1_000_000:g}")
            self._file.write(data[start:end])  # type: ignore[attr-defined]
            return
        self._value += data[start:end]
        if len(self._value) > MAX_FIELD_BYTES:
            raise _Refused(400, N_("A field of the form is too long."))

    def on_part_end(self) -> None:
        if self._file is not None:
            self._file.close()  # type: ignore[attr-defined]
            self._file = None
            assert self._path is not None
            assert self._filename is not None
            self.upload = Upload(self._path, self._filename, self._size, self._content_type)
            return
        value = self._value.decode("utf-8", "replace")
        self.fields.append((self._name, value))
        if self._name == CSRF_FIELD:
            stored = self.web.sessions.read(self.request)
            self.csrf_ok = stored is not None and stored.csrf_matches(value)

    def discard(self) -> None:
        if self._file is not None:
            self._file.close()  # type: ignore[attr-defined]
            self._file = None
        for path in (self._path, self.upload.path if self.upload else None):
            if path is not None:
                path.unlink(missing_ok=True)


async def _receive(request: Request, receiver: _Receiver) -> None:
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise _Refused(400, N_("Send the form with its file (multipart/form-data)."))
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > receiver.limit + 1024 * 1024:
        raise _Refused(413, TOO_LARGE, limit=f"{receiver.limit / 1_000_000:g}")
    callbacks = {
        "on_part_begin": receiver.on_part_begin,
        "on_header_field": receiver.on_header_field,
        "on_header_value": receiver.on_header_value,
        "on_header_end": receiver.on_header_end,
        "on_headers_finished": receiver.on_headers_finished,
        "on_part_data": receiver.on_part_data,
        "on_part_end": receiver.on_part_end,
    }
    parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except FormParserError as error:
        raise _Refused(400, N_("The form could not be read.")) from error


async def _without_file(request: Request, web: Web) -> Response:
    """A form sent without multipart: its token is checked first (403 as for
    any form), then it is refused for want of a file."""
    async with request.form(
        max_files=0, max_fields=MAX_FIELDS, max_part_size=MAX_FIELD_BYTES
    ) as form:
        if checked_session(request, web, form) is None:
            return csrf_refused(request, web)
    return error_page(request, web, 400, N_("Send the form with its file (multipart/form-data)."))


def upload_action(
    folder: Callable[[Web], Path],
    *,
    admin: bool = False,
    module: str | None = None,
    invalid: InvalidHandler | None = None,
) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """A POST handler for a form with a file; ``folder`` names where uploads
    of this form are stored (in the data dir).  See the module docstring."""
    _known_module(module)

    def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            web = web_of(request)
            if not request.headers.get("content-type", "").startswith("multipart/form-data"):
                return await _without_file(request, web)
            receiver = _Receiver(web, request, folder(web), web.settings.web.upload_max_bytes)
            try:
                await _receive(request, receiver)
            except _Refused as refused:
                receiver.discard()
                if refused.error == "csrf":
                    return csrf_refused(request, web)
                return error_page(request, web, refused.status, refused.error)
            except ClientDisconnect:
                receiver.discard()
                return Response(status_code=400)
            except BaseException:
                receiver.discard()
                raise
            if not receiver.csrf_ok:
                receiver.discard()
                return csrf_refused(request, web)
            form = FormData(receiver.fields)
            try:
                response = await run_in_threadpool(_run, request, web, form, receiver, handler)
            except BaseException:
                receiver.discard()
                raise
            return response

        endpoint.__name__ = handler.__name__
        return endpoint

    def _run(
        request: Request, web: Web, form: FormData, receiver: _Receiver, handler: Handler
    ) -> Response:
        stored = web.sessions.read(request)
        assert stored is not None  # the token matched a session
        try:
            with web.database.transaction() as session:
                viewer = _admit(request, web, session, stored, admin, module)
                if isinstance(viewer, Response):
                    receiver.discard()
                    return viewer
                request.state.upload = receiver.upload
                return handler(Call(request, web, session, stored, viewer, form))
        except NotFoundError as error:
            receiver.discard()
            return error_page(request, web, 404, error)
        except KmdavError as error:
            receiver.discard()
            return _refused(request, web, stored, form, error, invalid)

    return wrap


def uploaded(call: Call) -> Upload:
    """The file of an :func:`upload_action` form, or ValidationError."""
    upload: Upload | None = getattr(call.request.state, "upload", None)
    if upload is None or not upload.filename:
        raise ValidationError("Choose a file to upload.", field="file")
    if upload.size == 0:
        raise ValidationError("The file is empty.", field="file")
    return upload
