"""kmdav.accounts.totp against RFC 6238's published test values."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlsplit

import pytest

from kmdav.accounts import totp

#: RFC 6238 appendix B: the SHA-1 key is the ASCII string "12345678901234567890".
RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()


@pytest.mark.parametrize(
    ("unix_time", "eight_digits"),
    [
        (59, "94287082"),
        (1111111109, "07081804"),
        (1111111111, "14050471"),
        (1234567890, "89005924"),
        (2000000000, "69279037"),
        (20000000000, "65353130"),
    ],
)
def test_codes_match_rfc_6238_appendix_b(unix_time: int, eight_digits: str) -> None:
    # Six digits are the last six of the RFC's eight (both are the same number mod 10^n).
    assert totp.code_at(RFC_SECRET, totp.current_step(unix_time)) == eight_digits[-6:]


def test_one_step_of_drift_either_way_and_no_more() -> None:
    now = 1_700_000_015.0
    step = totp.current_step(now)
    for offset in (-1, 0, 1):
        code = totp.code_at(RFC_SECRET, step + offset)
        assert totp.matching_step(RFC_SECRET, code, now) == step + offset
    for offset in (-2, 2):
        assert totp.matching_step(RFC_SECRET, totp.code_at(RFC_SECRET, step + offset), now) is None


@pytest.mark.parametrize("typed", ["", "12345", "1234567", "abcdef", "12 34 5x"])
def test_malformed_codes_match_nothing(typed: str) -> None:
    assert totp.matching_step(RFC_SECRET, typed, 59) is None


def test_new_secrets_are_160_bit_base32() -> None:
    secret = totp.new_secret()
    assert len(base64.b32decode(secret + "=" * (-len(secret) % 8))) == 20
    assert secret != totp.new_secret()


def test_provisioning_uri_names_issuer_and_parameters() -> None:
    uri = totp.provisioning_uri("JBSWY3DPEHPK3PXP", "anna@example.org")
    parts = urlsplit(uri)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "otpauth",
        "totp",
        "/kmdav:anna@example.org",
    )
    query = parse_qs(parts.query)
    assert query == {
        "secret": ["JBSWY3DPEHPK3PXP"],
        "issuer": ["kmdav"],
        "algorithm": ["SHA1"],
        "digits": ["6"],
        "period": ["30"],
    }
