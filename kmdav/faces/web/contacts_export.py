"""``/web/contacts/export``: the contact list or a selection as CSV, XLSX or vCard.

``?format=csv|xlsx|vcf`` plus the list page's own filter parameters (``q``,
``tag``, ``company``, ``owner``, ``kind``, ``f_<KEY>``; read by the list
page's ``list_query``), or ``ids=1,2,3`` (also repeated ``ids=``) for a
selection.  Needs the contacts ``export`` permission.  The answer streams:
CSV and vCard as they are written, XLSX from a temporary file on disk.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator

from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from kmdav.contacts import exports, fields
from kmdav.errors import PermissionDeniedError, ValidationError
from kmdav.faces.web import contacts as contact_pages
from kmdav.faces.web._web import Call, error_page, page
from kmdav.models import User

#: XLSX goes to a temporary file; below this size it stays in memory.
SPOOL_BYTES = 1024 * 1024


def _selection(call: Call) -> list[int]:
    values = call.request.query_params.getlist("ids")
    try:
        return [int(part) for value in values for part in value.split(",") if part.strip()]
    except ValueError:
        raise ValidationError("ids are numbers separated by commas", field="ids") from None


@page()
def export(call: Call) -> Response:
    wanted = call.request.query_params.get("format", "csv")
    if wanted not in exports.FORMATS:
        return error_page(
            call.request, call.web, 400, ValidationError("unknown export format"), call.viewer
        )
    user = call.session.get(User, call.viewer.id)
    assert user is not None  # the page's viewer
    definitions = fields.definitions(call.session)
    try:
        selection = _selection(call)
        query = None if selection else contact_pages.list_query(call, definitions)
        ids = exports.contact_ids(
            call.session,
            user,
            definitions,
            query=query,
            selection=selection,
            company_book=call.web.settings.dav.company_addressbook,
        )
    except PermissionDeniedError as error:
        return error_page(call.request, call.web, 403, error, call.viewer)
    except ValidationError as error:
        return error_page(call.request, call.web, 400, error, call.viewer)
    media_type, suffix = exports.FORMATS[wanted]
    database, gettext = call.web.database, call.gettext

    def stream() -> Iterator[str | bytes]:
        # Its own read transaction: the page's ends when this handler returns.
        with database.transaction("read") as session:
            if wanted == "csv":
                yield "\ufeff"
                yield from exports.csv_chunks(session, ids, definitions, gettext)
            elif wanted == "vcf":
                yield from exports.vcf_chunks(session, ids)
            else:
                with tempfile.SpooledTemporaryFile(SPOOL_BYTES) as spool:
                    exports.write_xlsx(session, ids, definitions, gettext, spool)
                    spool.seek(0)
                    while chunk := spool.read(64 * 1024):
                        yield chunk

    return StreamingResponse(
        stream(),
        media_type=media_type,
        headers={
            "content-disposition": f'attachment; filename="contacts.{suffix}"',
            "cache-control": "no-store",
        },
    )


routes = [Route("/contacts/export", export, methods=["GET"], name="web_contacts_export")]
