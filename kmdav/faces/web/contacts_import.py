"""``/web/contacts/import``: the import assistant, and ``/web/contacts/export``.

- ``GET /contacts/import``: how to prepare a file, a sample CSV
  (``/contacts/import/sample.csv``), the upload form (multipart, streamed
  to the data dir by :func:`~kmdav.faces.web._upload.upload_action`), and
  the viewer's recent imports.
- ``GET /contacts/import/{id}``: one import at its step: the column mapping
  (suggested from the headers, editable), target address book and
  duplicate handling, with a preview of the first rows and why a row would
  be rejected (``POST .../{id}`` saves the choices; with ``step=start`` it
  also starts the job); while the job runs, its progress bar (the
  ``/web/jobs`` fragment and script) and a cancel button; at the end, the
  report: counts, the rejected rows as CSV (``.../{id}/rejected.csv``) and
  an undo button (``POST .../{id}/undo``, a job of its own).
- ``GET /contacts/export``: see :mod:`kmdav.faces.web.contacts_export`.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from kmdav import jobs
from kmdav.contacts import fields, imports, mapping, tabular
from kmdav.errors import NotFoundError, ValidationError
from kmdav.faces.web._upload import upload_action, uploaded
from kmdav.faces.web._web import PREFIX, Call, FormErrors, NavEntry, Web, action, page, redirect
from kmdav.faces.web.jobs import STATUSES
from kmdav.i18n import N_
from kmdav.models import ContactImport, User

PATH = PREFIX + "/contacts/import"
#: The mapping form has a field per column of the file, and a few more.
MAX_FIELDS = tabular.MAX_COLUMNS + 10
NAVIGATION = (NavEntry(PATH, N_("Import")),)
#: What the status of an import reads as.
IMPORT_STATUSES = {
    "uploaded": N_("not started"),
    "queued": N_("queued"),
    "running": N_("running"),
    "done": N_("done"),
    "failed": N_("failed, nothing imported"),
    "cancelled": N_("cancelled, nothing imported"),
    "undoing": N_("being undone"),
    "undone": N_("undone"),
}
COUNTS = {
    "created": N_("created"),
    "updated": N_("updated"),
    "skipped": N_("skipped (duplicates)"),
    "rejected": N_("rejected"),
    "reverted": N_("taken back"),
    "kept": N_("kept (changed after the import)"),
}
SAMPLE_ROWS = (
    (
        "Vorname",
        "Nachname",
        "Firma",
        "Position",
        "E-Mail",
        "Telefon",
        "Mobil",
        "Straße",
        "PLZ",
        "Ort",
        "Land",
        "Geburtstag",
        "Schlagworte",
        "Notiz",
    ),
    (
        "Anna",
        "Huber",
        "Huber & Partner GmbH",
        "Geschäftsführerin",
        "anna.huber@example.com",
        "+43 1 234567",
        "+43 660 1234567",
        "Hauptstraße 1",
        "1010",
        "Wien",
        "Österreich",
        "31.12.1980",
        "Kunde, Newsletter",
        "Rückruf im Jänner",
    ),
    (
        "Max",
        "Müller",
        "",
        "",
        "max.mueller@example.org",
        "",
        "+49 170 7654321",
        "Lindenweg 7",
        "80331",
        "München",
        "Deutschland",
        "1975-04-01",
        "Interessent",
        "Mehrzeilige Notizen stehen\nin Anführungszeichen",
    ),
    (
        "",
        "",
        "Beispiel AG",
        "",
        "office@beispiel.example",
        "+41 44 123 45 67",
        "",
        "Bahnhofstrasse 10",
        "8001",
        "Zürich",
        "Schweiz",
        "",
        "Lieferant",
        "",
    ),
)


def _user(call: Call) -> User:
    user = call.session.get(User, call.viewer.id)
    if user is None:
        raise NotFoundError("There is no such import.")
    return user


def _folder(web: Web) -> Path:
    return imports.upload_folder(web.settings.data_dir)


def _import(call: Call) -> ContactImport:
    import_id: int = call.request.path_params["import_id"]
    return imports.get_import(call.session, import_id, _user(call))


# -- upload ----------------------------------------------------------------------------


def _upload_page(call: Call, errors: FormErrors | None = None, status: int = 200) -> Response:
    user = _user(call)
    return call.render(
        "contacts_import.html",
        status,
        errors=errors or {},
        recent=imports.recent_imports(call.session, user),
        statuses={k: call.gettext(v) for k, v in IMPORT_STATUSES.items()},
        targets=[(t.key, call.gettext(t.label)) for t in mapping.TARGETS],
        limit_mb=f"{call.web.settings.web.upload_max_bytes / 1_000_000:g}",
    )


@page()
def upload_page(call: Call) -> Response:
    return _upload_page(call)


def _upload_refused(call: Call, errors: FormErrors) -> Response:
    return _upload_page(call, errors, status=400)


@upload_action(_folder, invalid=_upload_refused)
def upload(call: Call) -> Response:
    file = uploaded(call)
    imports.sweep_stale_uploads(call.session, call.web.settings.data_dir)
    imported = imports.register_upload(
        call.session, _user(call), path=file.path, filename=file.filename, size=file.size
    )
    return redirect(f"{PATH}/{imported.id}")


@page()
def sample_csv(call: Call) -> Response:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=";", lineterminator="\r\n").writerows(SAMPLE_ROWS)
    return Response(
        "\ufeff" + buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": 'attachment; filename="kontakte-beispiel.csv"'},
    )


# -- one import ---------------------------------------------------------------------------


def _job_view(call: Call, job_id: int | None) -> dict[str, object] | None:
    if job_id is None:
        return None
    try:
        job = jobs.job_for(
            call.session, job_id, user_id=call.viewer.id, is_admin=call.viewer.is_admin
        )
    except NotFoundError:
        return None
    return jobs.describe(job)


def _detail(call: Call, errors: FormErrors | None = None, status: int = 200) -> Response:
    user = _user(call)
    imported = _import(call)
    definitions = fields.definitions(call.session)
    targets = [(t.key, call.gettext(t.label)) for t in mapping.TARGETS]
    targets += [(mapping.CUSTOM + d.key, d.label) for d in definitions]
    columns = list(imported.mapping)
    chosen = {
        "collection": imported.collection_id,
        "duplicate_mode": imported.duplicate_mode,
        "match_on": imported.match_on,
    }
    if errors and call.form is not None:
        # The form again as it was sent, with the message next to the field.
        columns = [call.field(f"column-{i}") for i in range(len(imported.headers))]
        chosen = {
            "collection": int(call.field("collection") or 0) or None,
            "duplicate_mode": call.field("duplicate_mode"),
            "match_on": call.field("match_on"),
        }
    preview: list[imports.PreviewRow] = []
    preview_error = ""
    if imported.status == "uploaded":
        try:
            preview = imports.preview(call.session, call.web.settings.data_dir, imported)
        except ValidationError as error:
            preview_error = call.gettext(error.message) % error.params
    job = _job_view(call, imported.job_id)
    undo_job = _job_view(call, imported.undo_job_id)
    shown_job = undo_job or job
    return call.render(
        "contacts_import_detail.html",
        status,
        imported=imported,
        status_label=call.gettext(IMPORT_STATUSES.get(imported.status, imported.status)),
        errors=errors or {},
        targets=targets,
        columns=columns,
        chosen=chosen,
        books=imports.writable_books(call.session, user),
        duplicate_modes={k: call.gettext(v) for k, v in imports.DUPLICATE_MODES.items()},
        match_rules={k: call.gettext(v) for k, v in imports.MATCH_RULES.items()},
        preview=preview,
        preview_error=preview_error,
        sample_values=_sample_values(preview, len(imported.headers)),
        problem_text=lambda problems: [p.text(call.gettext) for p in problems],
        job=shown_job,
        job_status_label=call.gettext(STATUSES.get(str(shown_job["status"]), ""))
        if shown_job
        else "",
        counts=[
            (call.gettext(label), int(imported.counts.get(key, 0)))
            for key, label in COUNTS.items()
            if imported.counts.get(key)
        ],
        can_undo=imported.status in {"done", "failed", "cancelled"}
        and imports.has_written(call.session, imported.id),
        rejected=int(imported.counts.get("rejected", 0)),
    )


def _sample_values(preview: list[imports.PreviewRow], width: int) -> list[str]:
    """A value from the first rows per column, shown next to its mapping."""
    values = []
    for index in range(width):
        found = next(
            (r.cells[index] for r in preview if index < len(r.cells) and r.cells[index]), ""
        )
        values.append(found[:60])
    return values


@page()
def import_page(call: Call) -> Response:
    return _detail(call)


def _settings_refused(call: Call, errors: FormErrors) -> Response:
    return _detail(call, errors, status=400)


@action(invalid=_settings_refused, max_fields=MAX_FIELDS)
def save_settings(call: Call) -> Response:
    user = _user(call)
    imported = _import(call)
    try:
        collection = int(call.field("collection"))
    except ValueError:
        collection = None
    imports.configure(
        call.session,
        user,
        imported,
        columns=[call.field(f"column-{i}") for i in range(len(imported.headers))],
        collection_id=collection,
        duplicate_mode=call.field("duplicate_mode"),
        match_on=call.field("match_on"),
    )
    if call.field("step") == "start":
        imports.start(call.session, user, imported)
        return redirect(f"{PATH}/{imported.id}")
    return redirect(f"{PATH}/{imported.id}#preview")


@action(invalid=_settings_refused)
def undo(call: Call) -> Response:
    imports.start_undo(call.session, _user(call), _import(call))
    return redirect(f"{PATH}/{_import(call).id}")


@page()
def rejected_csv(call: Call) -> Response:
    imported = _import(call)
    database = call.web.database
    gettext = call.gettext
    import_id = imported.id

    def stream() -> object:
        # Its own read transaction: the page's ends when this handler returns.
        with database.transaction("read") as session:
            found = session.get(ContactImport, import_id)
            assert found is not None
            yield from imports.rejected_csv(session, found, gettext)

    name = f"rejected-rows-{import_id}.csv"
    return StreamingResponse(
        stream(),  # type: ignore[arg-type]
        media_type="text/csv; charset=utf-8",
        headers={
            "content-disposition": f'attachment; filename="{name}"',
            "cache-control": "no-store",
        },
    )


routes = [
    Route("/contacts/import", upload_page, methods=["GET"], name="web_contacts_import"),
    Route("/contacts/import", upload, methods=["POST"]),
    Route("/contacts/import/sample.csv", sample_csv, methods=["GET"]),
    Route("/contacts/import/{import_id:int}", import_page, methods=["GET"]),
    Route("/contacts/import/{import_id:int}", save_settings, methods=["POST"]),
    Route("/contacts/import/{import_id:int}/undo", undo, methods=["POST"]),
    Route("/contacts/import/{import_id:int}/rejected.csv", rejected_csv, methods=["GET"]),
]
