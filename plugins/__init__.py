"""Radicale auth and rights plugins over kmdav's users, groups and shares
(installed as ``kmdav.plugins``)."""

from .auth import Auth
from .rights import Rights

__all__ = ["Auth", "Rights"]
