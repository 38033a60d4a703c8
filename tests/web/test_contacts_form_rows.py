"""The contact form saved as a browser sends it: every row, the empty ones too."""

from __future__ import annotations

import html
import re

import pytest

from tests.web.conftest import WebClient, WebServer

pytestmark = pytest.mark.live

_INPUT = re.compile(r"<input\b([^>]*)>")
_ATTR = re.compile(r'(\w[\w-]*)="([^"]*)"')
_TEXTAREA = re.compile(r'<textarea[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', re.S)


def _form_fields(page: str) -> list[tuple[str, str]]:
    """What a browser submits for the edit form (text inputs, hidden, textarea)."""
    form = page[page.index('<form method="post" action="/web/contacts/') :]
    form = form[: form.index("</form>")]
    sent: list[tuple[str, str]] = []
    for match in _INPUT.finditer(form):
        attrs = {k: html.unescape(v) for k, v in _ATTR.findall(match[1])}
        if "name" in attrs and attrs.get("type") not in {"checkbox", "radio", "submit"}:
            sent.append((attrs["name"], attrs.get("value", "")))
    for name, text in _TEXTAREA.findall(form):
        sent.append((name, html.unescape(text).removeprefix("\n")))
    return sent


def test_saving_the_form_unchanged_keeps_one_empty_row_each(
    web_server: WebServer, user: tuple[WebClient, str, str]
) -> None:
    web, _, _ = user
    created = web.post(
        "/web/contacts/new",
        {
            "kind": "person",
            "given_name": "Rosa",
            "family_name": "Reihe",
            "email": "rosa@example.com",
            "email_label": "work",
            "phone": "+43 1 999",
            "phone_label": "cell",
            "adr_street": "Gasse 2",
            "adr_code": "1020",
            "adr_locality": "Wien",
            "adr_country": "AT",
            "adr_label": "home",
        },
    )
    assert created.status_code == 303, created.text
    edit = created.headers["location"].split("?")[0] + "/edit"
    for _ in range(3):
        page = web.get(edit).text
        sent = _form_fields(page)
        names = [name for name, _ in sent]
        assert names.count("email") == 2
        assert names.count("phone") == 2
        assert names.count("adr_street") == 2
        data: dict[str, list[str]] = {}
        for name, value in sent:
            if name != "csrf_token":
                data.setdefault(name, []).append(value)
        saved = web.post(edit, data)
        assert saved.status_code == 303, saved.text
