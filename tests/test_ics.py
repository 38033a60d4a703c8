"""The feed face's pure pieces: If-None-Match, gzip, the file name, log redaction."""

from __future__ import annotations

import logging

from kmdav.faces.ics import (
    RedactFeedTokens,
    accepts_gzip,
    content_disposition,
    etag_matches,
    gzip_etag,
)

ETAG = '"abc-7-0123456789ab"'


def test_if_none_match_uses_the_weak_comparison() -> None:
    assert etag_matches(ETAG, ETAG)
    assert etag_matches(f'"x", W/{ETAG}', ETAG)
    assert etag_matches("*", ETAG)
    assert not etag_matches(None, ETAG)
    assert not etag_matches("", ETAG)
    assert not etag_matches('"abc-6-0123456789ab"', ETAG)
    assert etag_matches(gzip_etag(ETAG), ETAG, gzip_etag(ETAG))
    assert gzip_etag(ETAG) == '"abc-7-0123456789ab-gzip"'


def test_accept_encoding_gzip_with_weights() -> None:
    assert accepts_gzip("gzip, deflate, br")
    assert accepts_gzip("deflate;q=1, GZIP;q=0.5")
    assert accepts_gzip("x-gzip")
    assert not accepts_gzip("gzip;q=0")
    assert not accepts_gzip("gzip;q=nonsense")
    assert not accepts_gzip("identity")
    assert not accepts_gzip(None)


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
