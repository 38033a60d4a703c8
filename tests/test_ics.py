"""The feed face's pure pieces: If-None-Match, the file name, log redaction."""

from __future__ import annotations

import logging

from kmdav.faces.ics import RedactFeedTokens, content_disposition, etag_matches

ETAG = '"abc-7-0123456789ab"'


def test_if_none_match_uses_the_weak_comparison() -> None:
    assert etag_matches(ETAG, ETAG)
    assert etag_matches(f'"x", W/{ETAG}', ETAG)
    assert etag_matches("*", ETAG)
    assert not etag_matches(None, ETAG)
    assert not etag_matches("", ETAG)
    assert not etag_matches('"abc-6-0123456789ab"', ETAG)


def test_the_file_name_is_ascii_with_the_real_name_beside_it() -> None:
    assert content_disposition("Calendar") == (
        "inline; filename=\"Calendar.ics\"; filename*=UTF-8''Calendar.ics"
    )
    header = content_disposition('Büro "Wien"/2')
    assert header.startswith('inline; filename="B-ro-Wien-2.ics"; ')
    assert header.endswith("filename*=UTF-8''B%C3%BCro%20%22Wien%22%2F2.ics")
    assert content_disposition("///").startswith('inline; filename="calendar.ics"')


def test_tokens_never_reach_the_access_log() -> None:
    token = "Z" * 43
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", f"/ics/{token}.ics?x=1", "1.1", 200),
        None,
    )
    assert RedactFeedTokens().filter(record)
    assert token not in record.getMessage()
    assert "/ics/[token]" in record.getMessage()
