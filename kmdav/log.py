"""Logging set up once per process, with request context on every line."""

from __future__ import annotations

import logging
from contextvars import ContextVar

#: "request id user path" of the request being served, or "-".
request_context: ContextVar[str] = ContextVar("kmdav_request_context", default="-")

_configured = False


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request = request_context.get()
        return True


def configure_logging(level: str = "INFO") -> None:
    """Install one handler on the root logger; later calls only set the level."""
    global _configured  # noqa: PLW0603 - process-wide, set exactly once
    root = logging.getLogger()
    root.setLevel(level)
    if _configured:
        return
    handler = logging.StreamHandler()
    handler.addFilter(_ContextFilter())
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request)s] %(message)s")
    )
    root.addHandler(handler)
    _configured = True
