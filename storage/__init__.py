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

from .base import Collection, Storage

__all__ = ["Collection", "Storage"]
