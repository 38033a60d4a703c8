"""Website contact forms on a live server: the builder, the public face,
its spam defence, what a submission stores, and the e-mail it sends
(a real SMTP server on 127.0.0.1)."""

from __future__ import annotations

import html
import re
import secrets
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.databases import throwaway_database
from tests.live import live_server
from tests.smtp import SmtpServer, smtp_server
from tests.web.conftest import WebClient, WebServer, field_error, unique

pytestmark = pytest.mark.live

MIN_FILL = 1.5
ALLOWED = 4
CONSENT = "I agree that my details are stored to answer my request."


@pytest.fixture(scope="module")
def smtp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmtpServer]:
    with smtp_server(tmp_path_factory.mktemp("smtp")) as server:
        yield server


@pytest.fixture(scope="module")
def web_server(
    backend: str, tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer
) -> Iterator[WebServer]:
    workdir = tmp_path_factory.mktemp("kmdav-forms")
    env = {
        "KMDAV_MAIL__HOST": "127.0.0.1",
        "KMDAV_MAIL__PORT": str(smtp.port),
        "KMDAV_MAIL__SECURITY": "none",
        "KMDAV_MAIL__FROM_ADDRESS": "kmdav <crm@example.com>",
        "KMDAV_MAIL__TIMEOUT": "5",
        "KMDAV_FORMS__MIN_FILL_SECONDS": str(MIN_FILL),
        "KMDAV_FORMS__SUBMISSIONS_ALLOWED": str(ALLOWED),
    }
    with (
        throwaway_database(backend, workdir) as url,
        live_server(workdir / "data", url, extra_env=env) as live,
    ):
        yield WebServer(live, url)


def address() -> str:
    """A client address of its own (uvicorn takes X-Forwarded-For from 127.0.0.1)."""
    return f"198.51.{secrets.randbelow(250)}.{secrets.randbelow(250) + 1}"


def make_form(admin: WebClient, **changes: Any) -> tuple[int, str]:
    data: dict[str, Any] = {
        "name": unique("Contact us"),
        "form_language": "en",
        "ask": ["given_name", "family_name", "email", "phone", "message"],
        "required": ["email", "family_name"],
        "consent_text": CONSENT,
        "privacy_url": "https://example.com/privacy",
        "thank_you_text": "Thanks, we will call you.",
        **changes,
    }
    response = admin.post("/web/forms", data)
    assert response.status_code == 303, response.text
    form_id = int(response.headers["location"].split("/")[-1].split("?")[0])
    page = admin.get(f"/web/forms/{form_id}")
    match = re.search(r"/f/([A-Za-z0-9_-]{16})", page.text)
    assert match, page.text
    return form_id, match.group(1)


class Visitor:
    """Someone on the website: loads the form, fills it in, sends it."""

    def __init__(self, server: WebServer, public_id: str) -> None:
        self.http = httpx.Client(base_url=server.url, timeout=30)
        self.public_id = public_id
        self.address = address()

    def load(self) -> tuple[httpx.Response, str]:
        page = self.http.get(f"/f/{self.public_id}", headers={"x-forwarded-for": self.address})
        assert page.status_code == 200, page.text
        token = re.search(r'name="_t" value="([^"]+)"', page.text)
        assert token
        return page, token.group(1)

    def send(self, data: dict[str, str], token: str, **headers: str) -> httpx.Response:
        return self.http.post(
            f"/f/{self.public_id}",
            data={"_t": token, **data},
            headers={"x-forwarded-for": self.address, **headers},
        )

    def fill_and_send(self, data: dict[str, str]) -> httpx.Response:
        _, token = self.load()
        time.sleep(MIN_FILL + 0.2)  # a person takes longer than the minimum
        return self.send(data, token)

    def close(self) -> None:
        self.http.close()


@pytest.fixture
def form(admin: WebClient) -> tuple[int, str]:
    return make_form(admin)


def contacts_with(server: WebServer, email: str) -> list[int]:
    return [
        row[0]
        for row in server.query(
            "SELECT contact_id FROM contact_emails WHERE lower(value) = :e", e=email.lower()
        )
    ]


def count(server: WebServer, table: str) -> int:
    return int(server.query(f"SELECT count(*) FROM {table}")[0][0])


# -- the builder ----------------------------------------------------------------


def test_the_builder_saves_a_form_and_shows_both_snippets(admin: WebClient) -> None:
    form_id, public_id = make_form(admin)
    page = admin.get(f"/web/forms/{form_id}").text
    assert f"/f/{public_id}" in page
    # The snippets are shown as text, escaped.
    assert f"&lt;form method=&#34;post&#34; action=&#34;{admin.server.url}/f/{public_id}" in page
    assert "name=&#34;website&#34;" in page
    assert "name=&#34;_t&#34;" in page
    assert f"&lt;iframe src=&#34;{admin.server.url}/f/{public_id}&#34;" in page
    assert "form-embed.js" in page
    assert admin.get("/web/forms").text.count(public_id) == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": ""}, "name"),
        ({"redirect_url": "javascript:alert(1)"}, "redirect_url"),
        ({"consent_text": ""}, "consent_text"),
        ({"required": ["message"]}, "fields"),
        ({"privacy_url": ""}, "privacy_url"),
    ],
)
def test_the_builder_refuses_bad_input_and_saves_nothing(
    admin: WebClient, web_server: WebServer, changes: dict[str, Any], field: str
) -> None:
    before = count(web_server, "contact_forms")
    data = {
        "name": "x",
        "ask": ["email"],
        "required": ["email"],
        "consent_text": CONSENT,
        "privacy_url": "https://example.com/privacy",
        **changes,
    }
    response = admin.post("/web/forms", data)
    assert response.status_code == 400
    assert field_error(response.text, field)
    assert count(web_server, "contact_forms") == before


def test_users_without_the_permission_may_not_build(
    user: tuple[WebClient, str, str], form: tuple[int, str]
) -> None:
    client, _, _ = user
    assert client.get("/web/forms").status_code == 403
    assert client.get(f"/web/forms/{form[0]}").status_code == 403
    assert client.post(f"/web/forms/{form[0]}/delete", {}).status_code == 403


# -- the public face ------------------------------------------------------------


def test_the_public_page_is_framable_but_strict(
    web_server: WebServer, form: tuple[int, str]
) -> None:
    visitor = Visitor(web_server, form[1])
    page, _ = visitor.load()
    csp = page.headers["content-security-policy"]
    assert "frame-ancestors *" in csp
    assert "script-src 'self'" in csp
    assert "style-src 'self'" in csp
    assert "x-frame-options" not in page.headers
    assert "set-cookie" not in page.headers
    assert CONSENT in page.text
    assert '<p hidden aria-hidden="true">' in page.text  # the honeypot
    assert "<script" not in page.text
    assert "style=" not in page.text
    visitor.close()


def test_unknown_and_deleted_forms_answer_404(admin: WebClient, web_server: WebServer) -> None:
    form_id, public_id = make_form(admin)
    assert httpx.get(f"{web_server.url}/f/{'x' * 16}").status_code == 404
    assert admin.post(f"/web/forms/{form_id}/delete", {}).status_code == 303
    assert httpx.get(f"{web_server.url}/f/{public_id}").status_code == 404


def test_a_valid_submission_creates_a_contact_with_consent_and_mails_the_team(
    admin: WebClient, web_server: WebServer, smtp: SmtpServer
) -> None:
    teammate = unique("sales")
    admin.create_user(teammate, "sales-password-1", email=f"{teammate}@example.com")
    team_id = web_server.user_row(teammate).id
    form_id, public_id = make_form(admin, notify_email="on", notify=[str(team_id)])
    email = f"{unique('anna')}@example.org"
    visitor = Visitor(web_server, public_id)
    answer = visitor.fill_and_send(
        {
            "given_name": "Anna",
            "family_name": "Berger",
            "email": email,
            "phone": "+43 660 1234567",
            "message": "Please call me back.",
            "consent": "on",
            "page": "https://www.example.com/contact",
        }
    )
    assert answer.status_code == 200, answer.text
    assert "Thanks, we will call you." in answer.text
    [contact_id] = contacts_with(web_server, email)
    [card] = web_server.query(
        "SELECT i.body FROM dav_items i JOIN contacts c ON c.item_id = i.id WHERE c.id = :c",
        c=contact_id,
    )
    assert "FN:Anna Berger" in card[0]
    assert "TEL" in card[0]
    assert "Please call me back." not in card[0]  # the message is no card data
    [record] = web_server.query(
        "SELECT r.page_url, r.remote_addr, t.version, t.consent_text, r.form_id "
        "FROM consent_records r JOIN consent_texts t ON t.id = r.consent_text_id "
        "WHERE r.contact_id = :c",
        c=contact_id,
    )
    assert record == ("https://www.example.com/contact", visitor.address, 1, CONSENT, form_id)
    events = web_server.query(
        "SELECT kind, text FROM contact_events WHERE contact_id = :c", c=contact_id
    )
    assert any(kind == "form" and "Please call me back." in text for kind, text in events)
    deadline = time.monotonic() + 30
    while not [m for m in smtp.received if f"{teammate}@example.com" in m.rcpt_tos]:
        assert time.monotonic() < deadline, "no notification arrived"
        time.sleep(0.2)
    [mail] = [m for m in smtp.received if f"{teammate}@example.com" in m.rcpt_tos]
    assert mail.message["subject"].startswith("Contact form: Contact us")
    body = mail.message.get_content()
    assert email in body
    assert f"/web/contacts/{contact_id}" in body
    visitor.close()


def test_a_second_submission_updates_the_contact_and_records_the_new_consent_version(
    admin: WebClient, web_server: WebServer, form: tuple[int, str]
) -> None:
    form_id, public_id = form
    email = f"{unique('bert')}@example.org"
    first = Visitor(web_server, public_id)
    sent = {"given_name": "Bert", "family_name": "Huber", "email": email, "consent": "on"}
    assert first.fill_and_send(sent).status_code == 200
    [contact_id] = contacts_with(web_server, email)
    page = admin.get(f"/web/forms/{form_id}").text
    assert "Version 1" in page
    changed = admin.post(
        f"/web/forms/{form_id}",
        {
            "name": "Contact us again",
            "ask": ["family_name", "email", "phone"],
            "required": ["email"],
            "consent_text": "New consent words.",
            "privacy_url": "https://example.com/privacy",
        },
    )
    assert changed.status_code == 303, changed.text
    second = Visitor(web_server, public_id)
    answer = second.fill_and_send(
        {"family_name": "Huber", "email": email.upper(), "phone": "0660 7654321", "consent": "on"}
    )
    assert answer.status_code == 200, answer.text
    assert contacts_with(web_server, email) == [contact_id]  # updated, not a second contact
    [card] = web_server.query(
        "SELECT i.body FROM dav_items i JOIN contacts c ON c.item_id = i.id WHERE c.id = :c",
        c=contact_id,
    )
    assert "Bert" in card[0]
    assert "0660 7654321" in card[0]
    versions = web_server.query(
        "SELECT t.version, t.consent_text FROM consent_records r "
        "JOIN consent_texts t ON t.id = r.consent_text_id WHERE r.contact_id = :c ORDER BY r.id",
        c=contact_id,
    )
    assert versions == [(1, CONSENT), (2, "New consent words.")]
    # The contact's own page shows both consents: form, text version and words, page.
    detail = admin.get(f"/web/contacts/{contact_id}")
    assert detail.status_code == 200
    section = detail.text[detail.text.index('id="consents"') :]
    section = section[: section.index("</section>")]
    assert section.count(f'href="/web/forms/{form_id}"') == 2
    assert "New consent words." in section
    assert html.escape(CONSENT) in section
    assert "https://example.com/privacy" in section
    first.close()
    second.close()


def test_invalid_submissions_name_each_field_keep_the_values_and_store_nothing(
    web_server: WebServer, form: tuple[int, str]
) -> None:
    before = [count(web_server, t) for t in ("contacts", "consent_records", "contact_events")]
    visitor = Visitor(web_server, form[1])
    answer = visitor.fill_and_send({"given_name": "Carla", "email": "not-an-address"})
    assert answer.status_code == 400
    assert field_error(answer.text, "email") == "Please enter a valid e-mail address."
    assert field_error(answer.text, "family_name") == "Please fill in this field."
    assert field_error(answer.text, "consent").startswith("Please agree")
    assert 'value="Carla"' in answer.text
    assert 'value="not-an-address"' in answer.text
    after = [count(web_server, t) for t in ("contacts", "consent_records", "contact_events")]
    assert after == before
    visitor.close()


def test_the_honeypot_answers_thanks_and_stores_nothing(
    web_server: WebServer, form: tuple[int, str]
) -> None:
    email = f"{unique('bot')}@example.org"
    visitor = Visitor(web_server, form[1])
    answer = visitor.fill_and_send(
        {"family_name": "Bot", "email": email, "consent": "on", "website": "http://spam.example"}
    )
    assert answer.status_code == 200
    assert "Thanks, we will call you." in answer.text
    assert contacts_with(web_server, email) == []
    visitor.close()


def test_a_form_sent_too_fast_or_with_a_bad_token_is_refused(
    web_server: WebServer, form: tuple[int, str]
) -> None:
    email = f"{unique('quick')}@example.org"
    visitor = Visitor(web_server, form[1])
    _, token = visitor.load()
    data = {"family_name": "Quick", "email": email, "consent": "on"}
    fast = visitor.send(data, token)
    assert fast.status_code == 400
    assert "sent too quickly" in fast.text
    assert 'value="Quick"' in fast.text
    forged = visitor.send(data, token[:-3] + "abc")
    assert forged.status_code == 400
    assert "could not be verified" in forged.text
    assert contacts_with(web_server, email) == []
    visitor.close()


def test_too_many_submissions_from_one_address_get_429(
    web_server: WebServer, form: tuple[int, str]
) -> None:
    visitor = Visitor(web_server, form[1])
    for _ in range(ALLOWED):
        assert visitor.send({"family_name": "x"}, "bad").status_code == 400
    refused = visitor.send({"family_name": "x"}, "bad")
    assert refused.status_code == 429
    assert "Too many submissions from your address" in refused.text
    assert int(refused.headers["retry-after"]) > 0
    other = Visitor(web_server, form[1])
    assert other.send({"family_name": "x"}, "bad").status_code == 400
    visitor.close()
    other.close()


def test_a_too_large_submission_is_refused(web_server: WebServer, form: tuple[int, str]) -> None:
    visitor = Visitor(web_server, form[1])
    answer = visitor.send({"message": "x" * 40_000}, "t")
    assert answer.status_code == 413
    visitor.close()


def test_a_redirect_form_answers_303_and_allows_that_origin(
    admin: WebClient, web_server: WebServer
) -> None:
    _, public_id = make_form(admin, redirect_url="https://www.example.com/thanks")
    visitor = Visitor(web_server, public_id)
    page, _ = visitor.load()
    assert "form-action 'self' https://www.example.com;" in page.headers["content-security-policy"]
    answer = visitor.fill_and_send(
        {"family_name": "Dora", "email": f"{unique('dora')}@example.org", "consent": "on"}
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "https://www.example.com/thanks"
    visitor.close()


def test_the_snippet_token_endpoint_allows_any_origin(
    web_server: WebServer, form: tuple[int, str]
) -> None:
    answer = httpx.get(f"{web_server.url}/f/{form[1]}/token", headers={"origin": "https://x.test"})
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == "*"
    assert answer.json()["token"]


def test_a_german_form_speaks_german(admin: WebClient, web_server: WebServer) -> None:
    _, public_id = make_form(admin, form_language="de")
    visitor = Visitor(web_server, public_id)
    page, _ = visitor.load()
    assert '<html lang="de">' in page.text
    assert "Vorname" in page.text
    assert "Datenschutzerklärung" in page.text
    answer = visitor.fill_and_send({"email": "kaputt"})
    assert answer.status_code == 400
    assert field_error(answer.text, "email") == "Bitte geben Sie eine gültige E-Mail-Adresse ein."
    visitor.close()


def test_own_fields_are_asked_checked_and_stored(admin: WebClient, web_server: WebServer) -> None:
    key = "SIZE" + secrets.token_hex(2).upper()
    made = admin.post(
        "/web/admin/fields",
        {"key": key, "label": f"Size {key}", "field_type": "select", "options": "S\nM\nL"},
    )
    assert made.status_code == 303, made.text
    _, public_id = make_form(
        admin, ask=["email", f"custom:{key}"], required=["email", f"custom:{key}"]
    )
    visitor = Visitor(web_server, public_id)
    page, _ = visitor.load()
    assert f"Size {key}" in page.text
    assert "<option>M</option>" in page.text
    email = f"{unique('size')}@example.org"
    wrong = visitor.fill_and_send({"email": email, f"custom:{key}": "XXL", "consent": "on"})
    assert wrong.status_code == 400
    assert "is not one of the options" in field_error(wrong.text, f"custom:{key}")
    right = visitor.fill_and_send({"email": email, f"custom:{key}": "m", "consent": "on"})
    assert right.status_code == 200, right.text
    [(contact_id,)] = web_server.query(
        "SELECT contact_id FROM contact_emails WHERE value = :e", e=email
    )
    [card] = web_server.query(
        "SELECT i.body FROM dav_items i JOIN contacts c ON c.item_id = i.id WHERE c.id = :c",
        c=contact_id,
    )
    assert f"X-KMDAV-{key}:M" in card[0]
    visitor.close()
