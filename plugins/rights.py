"""DAV rights: owners, shares with users and (nested) groups, the company book.

Letters as Radicale defines them: ``R``/``W`` read/write untagged
collections (the root, a home), ``r``/``w`` read/write address books,
calendars and their items.  Anything else gets no letter: Radicale then
answers 403/404 without revealing names or content.

Module seats: a calendar needs the user's calendar seat, a task list the
tasks seat (``access.seat_for_collection``), also when it is shared in.
Without it the collection gets no letter, so PROPFIND leaves it out and a
direct request gets 403; MKCALENDAR needs the calendar or the tasks seat.
Seats are read once per request.

The company address book: every user reads it; it is writable for users who
may edit contacts (every user by default, ``kmdav.contacts.access``) and a
DELETE of a card there needs the contacts delete permission.
"""

from __future__ import annotations

from radicale import config as radicale_config
from radicale import pathutils
from radicale import rights as radicale_rights
from sqlalchemy.orm import Session

from kmdav.contacts import access as contact_access
from kmdav.dav import access
from kmdav.dav.context import session_scope, state
from kmdav.db import Database
from kmdav.scheduling import boxes


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
        state.user = user
        key = ("rights", user, path)
        cached = state.cache.get(key)
        if cached is None:
            cached = self._authorization(user, pathutils.strip_path(path))
            state.cache[key] = cached
        result: str = cached
        return result

    def _company_letters(self, session: Session, user: str) -> str:
        """The company book: writable for users who may edit contacts; a
        DELETE there needs the contacts delete permission."""
        key = ("company-book", user, state.method == "DELETE")
        letters = state.cache.get(key)
        if letters is None:
            letters = contact_access.dav_company_letters(
                session, user, deleting=state.method == "DELETE"
            )
            state.cache[key] = letters
        result: str = letters
        return result

    def _authorization(self, user: str, path: str) -> str:
        if not path:
            return "R"
        parts = path.split("/")
        if parts[0] != user:
            return ""
        if len(parts) == 1:
            return "RW"
        if len(parts) == 2 and parts[1] == boxes.OUTBOX:
            # RFC 6638 2.1: the outbox is read (PROPFIND) and posted to, never
            # written; Radicale reads untagged collections with "R".
            return "R"
        real_path, letters = f"{user}/{parts[1]}", "rw"
        with session_scope(self.database) as session:
            # Alias names always contain the separator; others are own collections.
            if access.ALIAS_SEPARATOR in parts[1]:
                aliases = state.cache.get(("aliases", user))
                if aliases is None:
                    aliases = access.aliases_for(session, user, self.company_book)
                    state.cache[("aliases", user)] = aliases
                alias = aliases.get(parts[1])
                if alias is not None:
                    real_path = alias.real_path
                    letters = "rw" if alias.access == access.WRITE else "r"
                    if real_path == self.company_book:
                        letters = self._company_letters(session, user)
            seats = state.cache.get(("seats", user))
            if seats is None:
                seats = access.dav_seats(session, user, state.cache.get((access.KNOWN_SEATS, user)))
                state.cache[("seats", user)] = seats
            if state.method == "MKCALENDAR" and not seats.may_make_calendars:
                return ""  # a new calendar needs the calendar or the tasks seat
            return letters if seats.allows(session, real_path) else ""
