"""/web/contacts on a live server: the web and a "phone" (raw CardDAV) edit
the same cards; own fields travel in both forms; conflicts answer 409."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.dav.http import client, sync
from tests.web.conftest import WebClient, WebServer, unique

pytestmark = pytest.mark.live

VCARD = {"Content-Type": "text/vcard; charset=utf-8"}


@pytest.fixture(scope="module")
def own_fields(web_server: WebServer) -> Iterator[dict[str, str]]:
    """Own fields made through the admin page once per server: key -> label."""
    admin = WebClient(web_server)
    assert admin.login("admin", "admin-password-1").status_code == 303
    made = {}
    for key, label, kind in (
        (unique("KNR").upper(), unique("Kundennummer"), "number"),
        (unique("SINCE").upper(), unique("Kunde seit"), "date"),
    ):
        answer = admin.post("/web/admin/fields", {"key": key, "label": label, "field_type": kind})
        assert answer.status_code == 303, answer.text
        made[kind] = key
        made[kind + "_label"] = label
    admin.close()
    return made


def _contact_id(location: str) -> int:
    match = re.search(r"/web/contacts/(\d+)", location)
    assert match, location
    return int(match.group(1))


def _href(server: WebServer, contact_id: int) -> str:
    rows = server.query(
        "SELECT dav_items.href FROM contacts JOIN dav_items ON dav_items.id = contacts.item_id "
        "WHERE contacts.id = :id",
        id=contact_id,
    )
    return str(rows[0][0])


def _etag(page: str) -> str:
    match = re.search(r'name="etag" value="([^"]+)"', page)
    assert match, page
    return match.group(1).replace("&#34;", '"')


def test_web_edit_reaches_the_phone_and_phone_edit_reaches_the_web(
    web_server: WebServer, user: tuple[WebClient, str, str], own_fields: dict[str, str]
) -> None:
    web, name, password = user
    number, date = own_fields["number"], own_fields["date"]
    created = web.post(
        "/web/contacts/new",
        {
            "kind": "person",
            "given_name": "Anna",
            "family_name": "Grüner",
            "email": "anna@example.com",
            "email_label": "work",
            "phone": "+43 1 234567",
            "phone_label": "cell",
            "adr_street": "Hauptstraße 1",
            "adr_code": "1010",
            "adr_locality": "Wien",
            "adr_country": "AT",
            "adr_label": "work",
            "tags": "VIP, Kunde",
            f"f_{number}": "12345",
            f"f_{date}": "2020-01-02",
        },
    )
    assert created.status_code == 303, created.text
    contact_id = _contact_id(created.headers["location"])
    card_url = f"/dav/{name}/company-contacts/{_href(web_server, contact_id)}"
    with client(web_server.url, name, password) as phone:
        token, _, _ = sync(phone, f"/dav/{name}/company-contacts/")
        body = phone.get(card_url).text
        assert f"X-KMDAV-{number}:12345" in body
        assert f"X-KMDAV-{date}:2020-01-02" in body
        assert re.search(
            rf"item\d+\.X-ABDATE:2020-01-02\r\nitem\d+\.X-ABLabel:{own_fields['date_label']}", body
        )
        assert f"{own_fields['number_label']}: 12345" in body.replace("\r\n ", "")

        # The web edits: the phone's next sync sees the card changed.
        form = web.get(f"/web/contacts/{contact_id}/edit")
        saved = web.post(
            f"/web/contacts/{contact_id}/edit",
            {
                "etag": _etag(form.text),
                "kind": "person",
                "given_name": "Anna",
                "family_name": "Grüner",
                "email": "anna@example.com",
                "email_label": "work",
                "phone": "+43 1 234567",
                "phone_label": "cell",
                "adr_street": "Hauptstraße 1",
                "adr_code": "1010",
                "adr_locality": "Wien",
                "adr_country": "AT",
                "adr_label": "work",
                "tags": "VIP, Kunde",
                "title": "Einkauf",
                f"f_{number}": "777",
                f"f_{date}": "2020-01-02",
            },
        )
        assert saved.status_code == 303, saved.text
        token, changed, _ = sync(phone, f"/dav/{name}/company-contacts/", token)
        assert any(href.endswith(card_url.rsplit("/", 1)[1]) for href in changed)
        body = phone.get(card_url).text
        assert "TITLE:Einkauf" in body
        assert f"X-KMDAV-{number}:777" in body

        # The phone edits the visible form only (the note block line): the web shows it.
        etag = phone.get(card_url).headers["etag"]
        edited = body.replace(
            f"{own_fields['number_label']}: 777", f"{own_fields['number_label']}: 4242"
        )
        assert edited != body
        put = phone.put(card_url, content=edited.encode(), headers={**VCARD, "If-Match": etag})
        assert put.status_code in (201, 204), put.text
        page = web.get(f"/web/contacts/{contact_id}").text
        assert re.search(rf'data-key="{number}">4242', page), page[page.find("own-fields") :][:1500]
        assert f"changed on a device · {name}" in page  # the timeline names the device's user

        # An invalid value from the phone is kept and flagged, never dropped.
        body = phone.get(card_url).text
        bad = body.replace(f"X-KMDAV-{date}:2020-01-02", f"X-KMDAV-{date}:next tuesday")
        put = phone.put(card_url, content=bad.encode(), headers=VCARD)
        assert put.status_code in (201, 204), put.text
        page = web.get(f"/web/contacts/{contact_id}").text
        assert "next tuesday" in page
        assert "invalid" in page
        assert f"X-KMDAV-{date}:next tuesday" in phone.get(card_url).text

        # Search finds the contact by city, e-mail and own-field value.
        for query in ("wien", "anna@example", "4242", "grüner"):
            listed = web.get("/web/contacts", params={"q": query}).text
            assert f'data-id="{contact_id}"' in listed, query


def test_stale_form_gets_409_with_both_versions_and_can_apply_again(
    web_server: WebServer, user: tuple[WebClient, str, str]
) -> None:
    web, name, password = user
    created = web.post(
        "/web/contacts/new", {"kind": "person", "given_name": "Ben", "family_name": "Old"}
    )
    contact_id = _contact_id(created.headers["location"])
    form = web.get(f"/web/contacts/{contact_id}/edit").text
    stale = _etag(form)
    card_url = f"/dav/{name}/company-contacts/{_href(web_server, contact_id)}"
    with client(web_server.url, name, password) as phone:
        body = phone.get(card_url).text
        phone_photo = body.replace("END:VCARD", "PHOTO;ENCODING=b;TYPE=JPEG:AAAA\r\nEND:VCARD")
        phone_photo = phone_photo.replace("N:Old;Ben;;;", "N:Phone;Ben;;;")
        assert phone.put(card_url, content=phone_photo.encode(), headers=VCARD).status_code == 204
        answer = web.post(
            f"/web/contacts/{contact_id}/edit",
            {"etag": stale, "kind": "person", "given_name": "Ben", "family_name": "Web"},
        )
        assert answer.status_code == 409
        assert "changed meanwhile" in answer.text
        assert "Phone" in answer.text
        assert "Web" in answer.text
        again = web.post(
            f"/web/contacts/{contact_id}/edit",
            {
                "etag": _etag(answer.text),
                "kind": "person",
                "given_name": "Ben",
                "family_name": "Web",
            },
        )
        assert again.status_code == 303
        final = phone.get(card_url).text
        assert "N:Web;Ben;;;" in final
        assert "PHOTO;ENCODING=b;TYPE=JPEG:AAAA\r\n" in final  # not ours: kept as it was


def test_delete_needs_the_grant_and_bad_input_changes_nothing(
    web_server: WebServer, user: tuple[WebClient, str, str], admin: WebClient
) -> None:
    web, _, _ = user
    refused = web.post("/web/contacts/new", {"kind": "person", "email": "not-an-address"})
    assert refused.status_code == 400
    refused = web.post(
        "/web/contacts/new", {"kind": "person", "given_name": "X", "email": "not-an-address"}
    )
    assert refused.status_code == 400
    assert "not-an-address" in refused.text
    created = web.post("/web/contacts/new", {"kind": "company", "company": unique("Acme")})
    contact_id = _contact_id(created.headers["location"])
    page = web.get(f"/web/contacts/{contact_id}/delete")
    assert "may not delete" in page.text
    assert web.post(f"/web/contacts/{contact_id}/delete", {}).status_code == 400
    assert admin.post(f"/web/contacts/{contact_id}/delete", {}).status_code == 303
    assert web.get(f"/web/contacts/{contact_id}").status_code == 404


def test_a_contact_in_the_own_address_book_stays_out_of_other_views(
    web_server: WebServer, user: tuple[WebClient, str, str], admin: WebClient
) -> None:
    web, name, password = user
    own_book = web_server.query(
        "SELECT id FROM dav_collections WHERE path = :path", path=f"{name}/contacts"
    )[0][0]
    form = web.get("/web/contacts/new").text
    assert f'value="{own_book}"' in form
    created = web.post(
        "/web/contacts/new",
        {"kind": "person", "given_name": "Private", "family_name": "Friend", "book": own_book},
    )
    assert created.status_code == 303, created.text
    contact_id = _contact_id(created.headers["location"])
    with client(web_server.url, name, password) as phone:
        listing = phone.request("PROPFIND", f"/dav/{name}/contacts/", headers={"Depth": "1"})
        assert _href(web_server, contact_id) in listing.text
    assert f'data-id="{contact_id}"' in web.get("/web/contacts", params={"q": "friend"}).text
    # Nobody else reads that book: the admin gets 404, and no list entry.
    assert admin.get(f"/web/contacts/{contact_id}").status_code == 404
    assert f'data-id="{contact_id}"' not in admin.get("/web/contacts", params={"q": "friend"}).text
    refused = web.post("/web/contacts/new", {"kind": "person", "given_name": "X", "book": "x"})
    assert refused.status_code == 400
