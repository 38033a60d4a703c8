"""Words for full-text search (pure): the same split for the index and the query.

The stored ``search_text``/``notes_text`` hold lower-case words separated by
single spaces, so SQLite's FTS5 tokenizer and PostgreSQL's ``simple`` parser
see the same tokens the query is split into (PostgreSQL's parser would
otherwise keep ``anna@example.com`` or ``k-2002`` as one token).
"""

from __future__ import annotations

import re

WORD = re.compile(r"\w+", re.UNICODE)
MAX_TERMS = 12


def index_text(*parts: str) -> str:
    return " ".join(WORD.findall(" ".join(parts).lower()))


def query_terms(query: str) -> list[str]:
    return WORD.findall(query.lower())[:MAX_TERMS]
