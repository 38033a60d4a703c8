"""Radicale storage plugin over kmdav's SQL store (installed as ``kmdav.storage``).

Split by concern like Radicale's own multifilesystem storage:

- :mod:`.context`  per-request state (the open transaction, the raw PUT body)
- :mod:`.lock`     ``acquire_lock``: one database transaction per DAV request
- :mod:`.discover` resolving paths to collections, aliases and items
- :mod:`.create`   create/replace/move/delete collections and items
- :mod:`.get`      reading items, filtered reads pushed into SQL
- :mod:`.upload`   storing items through the one write path
- :mod:`.sync`     RFC 6578 tokens over the change log
- :mod:`.meta`     collection properties, ctag, last-modified

The storage never writes SQL itself: it calls :mod:`kmdav.dav.service`.
"""

from kmdav.dav import service as _service

from . import timerange as _timerange
from .base import Collection, Storage

# Calendar bodies written without Radicale's parsed tree (web UI,
# scheduling) get their time-range record in the write path too.
_service.time_range_recorder = _timerange.body_record

__all__ = ["Collection", "Storage"]
