"""The contact form saved as a browser sends it: every row, the empty ones too."""

from __future__ import annotations

import html
import re

import pytest

from tests.web.conftest import WebClient, WebServer, unique

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


def test_the_linked_company_is_typed_with_suggestions_and_resolved_by_name(
    web_server: WebServer, user: tuple[WebClient, str, str]
) -> None:
    web, _, _ = user
    name = unique("Ökotech Linkwerk")
    made = web.post("/web/contacts/new", {"kind": "company", "company": name})
    assert made.status_code == 303, made.text
    [(company_uid,)] = web_server.query(
        "SELECT i.uid FROM dav_items i JOIN contacts c ON c.item_id = i.id "
        "WHERE c.organization = :n",
        n=name,
    )
    # Suggestions: a small answer of <option>s for what was typed.
    options = web.get("/web/contacts/companies", params={"q": name[:8]})
    assert options.status_code == 200
    assert f'<option value="{name}">' in options.text
    assert "<option" not in web.get("/web/contacts/companies", params={"q": "zz-none"}).text

    person = {"kind": "person", "given_name": "Lina", "family_name": "Link"}
    unknown = web.post("/web/contacts/new", {**person, "company_link": name + " nope"})
    assert unknown.status_code == 400
    assert "there is no company named" in unknown.text
    assert 'id="f-company_link"' in unknown.text

    created = web.post("/web/contacts/new", {**person, "company_link": name.upper()})
    assert created.status_code == 303, created.text
    edit = created.headers["location"].split("?")[0] + "/edit"
    page = web.get(edit).text
    assert f'name="company_link" type="search" value="{name}"' in page
    assert f'name="company_uid" value="{company_uid}"' in page
    [(body,)] = web_server.query(
        "SELECT i.body FROM dav_items i JOIN contacts c ON c.item_id = i.id "
        "WHERE c.family_name = 'Link' AND c.organization = :n",
        n=name,
    )
    assert f"X-KMDAV-COMPANY-UID:{company_uid}" in body.replace("\r\n ", "")

    # Emptying the field unlinks the person.
    sent = dict(_form_fields(page))
    saved = web.post(
        edit, {**{k: v for k, v in sent.items() if k != "csrf_token"}, "company_link": ""}
    )
    assert saved.status_code == 303, saved.text
    assert 'name="company_uid" value=""' in web.get(edit).text
