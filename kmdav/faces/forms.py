"""The public face: ``/f/<public id>``, website contact forms.

No login and no session: anyone may load a form and send it, also from a
page on another site (the embed snippet posts here) and inside an
``<iframe>``.  So this face, and only this one, lets other sites frame it
(``frame-ancestors *``); its CSP is otherwise as strict as the web face's
(no inline script or style, forms post only to us or to the form's own
redirect address).

Instead of a CSRF token a submission passes the spam defence of
:mod:`kmdav.forms.spam` (size limit, rate limit per client address,
honeypot, signed time token), then every field is checked
(:func:`kmdav.forms.submission.check`): a refused submission gets the form
again with the values and one message per field (status 400) and stores
nothing; an accepted one is stored in one write transaction
(:func:`kmdav.forms.submission.accept`) and answered with the thank-you
text or a 303 to the form's redirect address.
"""

from __future__ import annotations

import gettext
import logging
from collections.abc import Mapping
from urllib.parse import urlsplit

import jinja2
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import ClientDisconnect, Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import BaseRoute, Mount, Route, Router

from kmdav.contacts import fields
from kmdav.db import Database
from kmdav.errors import KmdavError, ValidationError
from kmdav.forms import builder, spam, submission
from kmdav.models import ContactForm
from kmdav.settings import Settings

logger = logging.getLogger(__name__)

PREFIX = "/f"
#: Strict like the web face, but framable by any site; ``form-action`` gets
#: the form's redirect origin added (a redirect after a POST counts).
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors *; form-action 'self'{extra}; base-uri 'none'"
)
_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "strict-origin-when-cross-origin",
    "cache-control": "no-store",
    "x-robots-tag": "noindex",
}


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def security_headers(form: ContactForm | None) -> dict[str, str]:
    extra = ""
    if form is not None and form.redirect_url:
        extra = " " + _origin(form.redirect_url)
    return {**_HEADERS, "content-security-policy": _CSP.format(extra=extra)}


def client_address(request: Request) -> str:
    return request.client.host if request.client else ""


def page_of(request: Request, sent: str = "") -> str:
    """The page the form was sent from: the ``page`` field (an http(s)
    address the page or the snippet's script filled in), else the Referer."""
    for candidate in (sent, request.headers.get("referer", "")):
        try:
            return builder.web_url(candidate, "page")
        except ValidationError:
            continue
    return ""


class PublicForms:
    def __init__(
        self,
        settings: Settings,
        database: Database,
        templates: Mapping[str, jinja2.Environment],
        translations: Mapping[str, gettext.NullTranslations],
    ) -> None:
        self.settings = settings
        self.database = database
        self.templates = templates
        self.translations = translations
        self.tokens = spam.TimeTokens(settings.resolved_secret(), settings.forms)
        self.limit = spam.SubmissionLimit(settings.forms)

    # -- rendering ----------------------------------------------------------------

    def render(
        self,
        request: Request,
        form: ContactForm,
        *,
        status: int = 200,
        values: Mapping[str, str] | None = None,
        errors: Mapping[str, KmdavError] | None = None,
        token: str = "",
        page: str = "",
        consent_given: bool = False,
    ) -> HTMLResponse:
        translations = self.translations[form.language]
        with self.database.transaction("read") as session:
            own = fields.definitions(session)
            consent = builder.current_consent(session, form.id)
            asked = submission.asked_fields(form, own)
        messages = {key: _text(error, translations) for key, error in (errors or {}).items()}
        body = (
            self.templates[form.language]
            .get_template("public_form.html")
            .render(
                form=form,
                asked=asked,
                consent=consent,
                values=values or {},
                errors=messages,
                token=token or self.tokens.issue(form.public_id),
                token_field=spam.TOKEN_FIELD,
                honeypot=spam.HONEYPOT_FIELD,
                page=page or page_of(request),
                consent_given=consent_given,
                lang=form.language,
            )
        )
        return HTMLResponse(body, status_code=status, headers=security_headers(form))

    def thanks(self, form: ContactForm) -> Response:
        if form.redirect_url:
            return RedirectResponse(
                form.redirect_url, status_code=303, headers=security_headers(form)
            )
        body = (
            self.templates[form.language]
            .get_template("public_form_thanks.html")
            .render(form=form, lang=form.language)
        )
        return HTMLResponse(body, headers=security_headers(form))

    def plain(
        self, status: int, text: str, form: ContactForm | None = None, **headers: str
    ) -> Response:
        return PlainTextResponse(
            text + "\n", status_code=status, headers={**security_headers(form), **headers}
        )

    # -- endpoints ------------------------------------------------------------------

    def _form(self, request: Request) -> ContactForm | None:
        public_id: str = request.path_params["public_id"]
        if not public_id.replace("-", "").replace("_", "").isalnum() or len(public_id) > 32:
            return None
        with self.database.transaction("read") as session:
            form = builder.public_form(session, public_id)
            if form is not None:
                session.expunge(form)
            return form

    def show(self, request: Request) -> Response:
        form = self._form(request)
        if form is None:
            return self.plain(404, "Not found")
        return self.render(request, form)

    def token(self, request: Request) -> Response:
        """A fresh page token for the snippet's script (any origin may ask)."""
        form = self._form(request)
        headers = {"access-control-allow-origin": "*", "cache-control": "no-store"}
        if form is None:
            return JSONResponse({"error": "not found"}, status_code=404, headers=headers)
        return JSONResponse({"token": self.tokens.issue(form.public_id)}, headers=headers)

    async def submit(self, request: Request) -> Response:
        length = request.headers.get("content-length", "")
        if not length.isdigit() or int(length) > self.settings.forms.max_body_bytes:
            if not length.isdigit():
                return self.plain(411, "Length required")
            return self.plain(413, "This form sends too much data.")
        try:
            async with request.form(max_files=0, max_fields=80, max_part_size=16 * 1024) as form:
                return await run_in_threadpool(self._submit, request, form)
        except ClientDisconnect:
            return self.plain(400, "Bad request")

    def _submit(self, request: Request, sent: FormData) -> Response:
        form = self._form(request)
        if form is None:
            return self.plain(404, "Not found")
        address = client_address(request)
        wait = self.limit.retry_after(address)
        translations = self.translations[form.language]
        if wait:
            message = translations.gettext(
                "Too many submissions from your address. Please try again in %(minutes)s minutes."
            ) % {"minutes": max(1, round(wait / 60))}
            return self.plain(429, message, form, **{"retry-after": str(wait)})
        self.limit.count(address)
        values = {key: value for key, value in sent.items() if isinstance(value, str)}
        if values.get(spam.HONEYPOT_FIELD, "").strip():
            # A bot: answer as if it worked, keep nothing.
            logger.info("forms: honeypot filled on form %s from %s", form.id, address)
            return self.thanks(form)
        page = page_of(request, values.get("page", ""))
        consent_given = values.get(submission.CONSENT_FIELD) in ("on", "1", "yes")
        token = values.get(spam.TOKEN_FIELD, "")
        try:
            self.tokens.check(form.public_id, token)
        except ValidationError as error:
            # Too fast: keep the token, the clock keeps running; else a new one.
            keep = token if isinstance(error, spam.TooFast) else ""
            return self.render(
                request,
                form,
                status=400,
                values=values,
                errors={"": error},
                token=keep,
                page=page,
                consent_given=consent_given,
            )
        errors: Mapping[str, KmdavError]
        with self.database.transaction("read") as session:
            clean, errors = submission.check(
                form, fields.definitions(session), values, consent_given
            )
        if not errors:
            try:
                with self.database.transaction() as session:
                    accepted = submission.accept(
                        session,
                        session.merge(form),
                        clean,
                        page_url=page,
                        remote_addr=address,
                        base_url=str(request.base_url).rstrip("/"),
                    )
            except KmdavError as error:  # rolled back: nothing stays
                errors = {"": error}
            else:
                logger.info(
                    "forms: form %s stored contact %s (%s)",
                    form.id,
                    accepted.contact_id,
                    "new" if accepted.created else "updated",
                )
        if errors:
            return self.render(
                request,
                form,
                status=400,
                values=values,
                errors=errors,
                page=page,
                consent_given=consent_given,
            )
        return self.thanks(form)


def _text(error: KmdavError, translations: gettext.NullTranslations) -> str:
    text = translations.gettext(error.message) if error.message else str(error)
    return text % error.params if error.params else text


def forms_routes(
    settings: Settings,
    database: Database,
    templates: Mapping[str, jinja2.Environment],
    translations: Mapping[str, gettext.NullTranslations],
) -> list[BaseRoute]:
    public = PublicForms(settings, database, templates, translations)
    router = Router(
        routes=[
            Route("/{public_id}", public.show, methods=["GET", "HEAD"]),
            Route("/{public_id}", public.submit, methods=["POST"]),
            Route("/{public_id}/token", public.token, methods=["GET"]),
        ]
    )
    return [Mount(PREFIX, app=router)]
