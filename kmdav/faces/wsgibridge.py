"""ASGI to WSGI for Radicale: the body read on the event loop, one thread hop.

Radicale is a WSGI application and kmdav is served by uvicorn (ASGI).  The
general bridge (a2wsgi) runs the WSGI call on a worker thread and lets that
thread fetch each body chunk and hand over the status line and each answer
chunk through the event loop, a cross-thread round trip each time.  DAV
requests and answers are small or, for large PROPFINDs and multigets, built
in memory by Radicale anyway, and ``DavGuard`` reads the whole body before
Radicale sees it.  So this bridge reads the body on the loop (never more
than the configured limit plus one byte), runs the WSGI call on a thread
once, and sends the collected answer from the loop: one hop there and back
per request.  Measured on the 2-core machine the benchmarks run on, that
took about 0.9 ms of server CPU off every DAV request (see
``docs/architecture.md``, "Speed").
"""

from __future__ import annotations

import asyncio
import contextvars
import io
import logging
import sys
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from starlette.types import Receive, Scope, Send

logger = logging.getLogger(__name__)

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

_SPECIAL_HEADERS = {b"content-type": "CONTENT_TYPE", b"content-length": "CONTENT_LENGTH"}


class _Answer:
    """What the WSGI application answered: status, headers and body."""

    __slots__ = ("body", "headers", "status")

    def __init__(self) -> None:
        self.status = 500
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []


class BufferedWSGI:
    """Serve a WSGI application whose requests and answers fit in memory.

    ``max_body`` bounds what is read of a request body: a declared
    ``Content-Length`` above it is not read at all, a chunked body is read
    up to one byte past it; the WSGI application (``DavGuard``) then answers
    413 from what it finds.
    """

    def __init__(self, app: WSGIApp, *, max_body: int, threads: int) -> None:
        self.app = app
        self.max_body = max_body
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="dav")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan and websockets are not DAV's
            return
        body = await self._read_body(scope, receive)
        if body is None:  # the client went away
            return
        environ = self._environ(scope, body)
        context = contextvars.copy_context()
        loop = asyncio.get_running_loop()
        answer = await loop.run_in_executor(self.executor, context.run, self._call, environ)
        await send(
            {"type": "http.response.start", "status": answer.status, "headers": answer.headers}
        )
        await send({"type": "http.response.body", "body": b"".join(answer.body)})

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes | None:
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    if int(value) > self.max_body:
                        return b""  # DavGuard answers 413 from the header alone
                except ValueError:
                    return b""  # DavGuard answers 400 for it
                break
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            if chunk:
                chunks.append(chunk)
                size += len(chunk)
            if not message.get("more_body", False) or size > self.max_body:
                return b"".join(chunks)

    @staticmethod
    def _environ(scope: Scope, body: bytes) -> dict[str, Any]:
        # PEP 3333: paths are the request's bytes decoded as latin-1.
        root_path = scope.get("root_path", "").encode("utf-8").decode("latin-1")
        path = scope["path"].encode("utf-8").decode("latin-1")
        if path.startswith(root_path):
            path = path[len(root_path) :]
        server_name, server_port = scope.get("server") or ("localhost", 80)
        client = scope.get("client")
        environ: dict[str, Any] = {
            "REQUEST_METHOD": scope["method"],
            "SCRIPT_NAME": root_path,
            "PATH_INFO": path,
            "QUERY_STRING": scope["query_string"].decode("latin-1"),
            "SERVER_NAME": server_name,
            "SERVER_PORT": str(server_port),
            "SERVER_PROTOCOL": f"HTTP/{scope['http_version']}",
            "REMOTE_ADDR": client[0] if client else "",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": scope.get("scheme", "http"),
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
        }
        for raw_name, raw_value in scope["headers"]:
            value = raw_value.decode("latin-1")
            key = _SPECIAL_HEADERS.get(raw_name)
            if key is None:
                key = "HTTP_" + raw_name.decode("latin-1").upper().replace("-", "_")
            if key in environ:
                value = environ[key] + "," + value  # RFC 9110 5.3: repeated fields
            environ[key] = value
        return environ

    def _call(self, environ: dict[str, Any]) -> _Answer:
        answer = _Answer()

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], None]:
            answer.status = int(status[:3])
            answer.headers = [
                (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers
            ]
            return answer.body.append

        try:
            chunks = self.app(environ, start_response)
            try:
                answer.body.extend(chunks)
            finally:
                close = getattr(chunks, "close", None)
                if close is not None:
                    close()
        except Exception:
            logger.exception("unhandled error in the DAV application")
            failed = _Answer()
            failed.headers = [(b"content-type", b"text/plain; charset=utf-8")]
            failed.body = [b"Internal Server Error\n"]
            return failed
        return answer
