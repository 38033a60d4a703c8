"""``/web/admin/audit``: administrators read the audit log.

Newest first, 50 entries a page, paged by entry id (keyset: a page costs
the same however deep it is).  Filters: actor name, action (one of those
in the log), and a date range in UTC (both days included).  The filter
values come from the query string; a bad one is a message next to its
field (status 400), never a server error.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from starlette.responses import Response
from starlette.routing import Route

from kmdav import audit
from kmdav.faces.web._web import Call, FormErrors, page
from kmdav.i18n import N_

PAGE_SIZE = 50


def _day(call: Call, name: str, errors: FormErrors) -> date | None:
    raw = call.request.query_params.get(name, "").strip()
    if not raw:
        return None
    try:
        if len(raw) != 10:
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError:
        errors[name] = call.gettext(N_("Enter a date as YYYY-MM-DD, e.g. 2026-11-23."))
        return None


def _entry_id(call: Call, name: str, errors: FormErrors) -> int | None:
    raw = call.request.query_params.get(name, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 18:
        errors[""] = call.gettext(N_("That page link is broken; start from the first page."))
        return None
    return int(raw)


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _details(details: dict[str, Any] | None) -> list[tuple[str, str]]:
    """Details as (key, text) pairs; the template escapes both."""
    pairs = []
    for key, value in sorted((details or {}).items()):
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        pairs.append((str(key), text))
    return pairs


@page(admin=True)
def audit_log(call: Call) -> Response:
    params = call.request.query_params
    errors: FormErrors = {}
    known_actions = audit.actions(call.session)
    actor = params.get("actor", "").strip()
    if len(actor) > 64:
        errors["actor"] = call.gettext(N_("Actor names have at most 64 characters."))
    action = params.get("action", "").strip()
    if action and action not in known_actions:
        errors["action"] = call.gettext(N_("Choose an action from the list."))
    since, until = _day(call, "from", errors), _day(call, "to", errors)
    if since and until and until < since:
        errors["to"] = call.gettext(N_("The end date is before the start date."))
    before, after = _entry_id(call, "before", errors), _entry_id(call, "after", errors)
    filters = {"actor": actor, "action": action, "from": params.get("from", "").strip()}
    filters["to"] = params.get("to", "").strip()
    if errors:
        return call.render(
            "admin_audit.html",
            400,
            entries=[],
            actions=known_actions,
            values=filters,
            errors=errors,
            newer_url="",
            older_url="",
        )
    result = audit.read_page(
        call.session,
        audit.AuditFilter(
            actor=actor,
            action=action,
            since=_start_of(since) if since else None,
            until=_start_of(until + timedelta(days=1)) if until else None,
        ),
        before_id=before,
        after_id=after,
        size=PAGE_SIZE,
    )
    kept = {key: value for key, value in filters.items() if value}
    entries = [{"entry": entry, "details": _details(entry.details)} for entry in result.entries]
    newer_url = older_url = ""
    if result.entries and result.newer:
        newer_url = "?" + urlencode({**kept, "after": result.entries[0].id})
    if result.entries and result.older:
        older_url = "?" + urlencode({**kept, "before": result.entries[-1].id})
    return call.render(
        "admin_audit.html",
        entries=entries,
        actions=known_actions,
        values=filters,
        errors=errors,
        newer_url=newer_url,
        older_url=older_url,
    )


routes = [Route("/admin/audit", audit_log, methods=["GET"], name="web_admin_audit")]
