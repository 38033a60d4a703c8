"""DAV rights: owners, shares with users and (nested) groups, the company book.

Letters as Radicale defines them: ``R``/``W`` read/write untagged
collections (the root, a home), ``r``/``w`` read/write address books,
calendars and their items.  Anything else gets no letter: Radicale then
answers 403/404 without revealing names or content.
"""

from __future__ import annotations

from radicale import config as radicale_config
from radicale import pathutils
from radicale import rights as radicale_rights

from kmdav.dav import access
from kmdav.dav.context import session_scope, state
from kmdav.db import Database


class Rights(radicale_rights.BaseRights):
    def __init__(
        self, configuration: radicale_config.Configuration, database: Database, company_book: str
    ) -> None:
        super().__init__(configuration)
        self.database = database
        self.company_book = company_book

    def authorization(self, user: str, user_groups: set[str], path: str) -> str:
        if not user:
            return ""
        key = ("rights", user, path)
        cached = state.cache.get(key)
        if cached is None:
            cached = self._authorization(user, pathutils.strip_path(path))
            state.cache[key] = cached
        result: str = cached
        return result

    def _authorization(self, user: str, path: str) -> str:
        if not path:
            return "R"
        parts = path.split("/")
        if parts[0] != user:
            return ""
        if len(parts) == 1:
            return "RW"
        if access.ALIAS_SEPARATOR not in parts[1]:
            return "rw"  # alias names always contain the separator: an own collection
        with session_scope(self.database) as session:
            aliases = state.cache.get(("aliases", user))
            if aliases is None:
                aliases = access.aliases_for(session, user, self.company_book)
                state.cache[("aliases", user)] = aliases
        alias = aliases.get(parts[1])
        if alias is None:
            return "rw"  # the user's own collection (or a new one being made)
        return "rw" if alias.access == access.WRITE else "r"
