"""``/web/jobs/{id}``: a background job's state for the one who started it
(and admins).

- ``GET /web/jobs/{id}``: JSON (status, progress, message, error, result),
  what the progress bar polls;
- ``GET /web/jobs/{id}/view``: an HTML page with a ``<progress>`` bar
  (``job_progress.html`` is the fragment other pages include);
- ``POST /web/jobs/{id}/cancel``: cancel it.

Another user's job answers 404, as if it did not exist.
"""

from __future__ import annotations

from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from kmdav import jobs
from kmdav.faces.web._web import PREFIX, Call, FormErrors, action, page, redirect
from kmdav.i18n import N_
from kmdav.models import Job

#: How the page words a job's status (the JSON keeps the status itself).
STATUSES = {
    "queued": N_("queued"),
    "running": N_("running"),
    "done": N_("done"),
    "failed": N_("failed"),
    "cancelled": N_("cancelled"),
}


def _job(call: Call) -> Job:
    job_id: int = call.request.path_params["job_id"]
    return jobs.job_for(call.session, job_id, user_id=call.viewer.id, is_admin=call.viewer.is_admin)


@page()
def job_status(call: Call) -> Response:
    response = JSONResponse(jobs.describe(_job(call)))
    response.headers["cache-control"] = "no-store"
    return response


def _job_page(call: Call, errors: FormErrors | None = None, status: int = 200) -> Response:
    job = _job(call)
    described = jobs.describe(job)
    label = STATUSES.get(job.status)
    return call.render(
        "job.html",
        status,
        job=described,
        status_label=call.gettext(label) if label else job.status,
        errors=errors or {},
    )


@page()
def job_view(call: Call) -> Response:
    return _job_page(call)


def _cancel_refused(call: Call, errors: FormErrors) -> Response:
    return _job_page(call, errors, status=400)


@action(invalid=_cancel_refused)
def cancel_job(call: Call) -> Response:
    job = _job(call)
    jobs.cancel(call.session, job.id, user_id=call.viewer.id, is_admin=call.viewer.is_admin)
    return redirect(f"{PREFIX}/jobs/{job.id}/view")


routes = [
    Route("/jobs/{job_id:int}", job_status, methods=["GET"], name="web_job"),
    Route("/jobs/{job_id:int}/view", job_view, methods=["GET"], name="web_job_view"),
    Route("/jobs/{job_id:int}/cancel", cancel_job, methods=["POST"], name="web_job_cancel"),
]
