"""Time tokens and the per-address limit of public forms."""

from __future__ import annotations

import time

import pytest

from kmdav.errors import ValidationError
from kmdav.forms.spam import PAGE, SNIPPET, SubmissionLimit, TimeTokens
from kmdav.settings import FormsSettings

SECRET = "x" * 40
SETTINGS = FormsSettings(min_fill_seconds=3, max_age_seconds=3600, snippet_max_age_seconds=7200)


def refused(tokens: TimeTokens, public_id: str, token: str, now: float) -> str:
    with pytest.raises(ValidationError) as caught:
        tokens.check(public_id, token, now=now)
    assert caught.value.field == "_t"
    return caught.value.message


def test_a_page_token_needs_the_minimum_time_and_expires() -> None:
    tokens = TimeTokens(SECRET, SETTINGS)
    token, issued = tokens.issue("form1"), time.time()
    assert "too quickly" in refused(tokens, "form1", token, issued + 1)
    assert tokens.check("form1", token, now=issued + 4).kind == PAGE
    assert "expired" in refused(tokens, "form1", token, issued + 3700)


def test_a_token_is_for_one_form_and_cannot_be_forged() -> None:
    tokens = TimeTokens(SECRET, SETTINGS)
    token, issued = tokens.issue("form1"), time.time()
    assert "could not be verified" in refused(tokens, "form2", token, issued + 10)
    assert "could not be verified" in refused(tokens, "form1", token[:-2] + "xx", issued + 10)
    other = TimeTokens("y" * 40, SETTINGS).issue("form1")
    assert "could not be verified" in refused(tokens, "form1", other, issued + 10)
    assert "could not be verified" in refused(tokens, "form1", "", issued + 10)


def test_a_snippet_token_has_no_minimum_time_but_a_longer_life() -> None:
    tokens = TimeTokens(SECRET, SETTINGS)
    token, issued = tokens.issue("form1", SNIPPET), time.time()
    assert tokens.check("form1", token, now=issued).kind == SNIPPET
    assert tokens.check("form1", token, now=issued + 5000).kind == SNIPPET
    assert "expired" in refused(tokens, "form1", token, issued + 7300)


def test_the_limit_counts_per_address() -> None:
    limit = SubmissionLimit(FormsSettings(submissions_allowed=2, window_seconds=600))
    for _ in range(2):
        assert limit.retry_after("192.0.2.1") == 0
        limit.count("192.0.2.1")
    assert 0 < limit.retry_after("192.0.2.1") <= 601
    assert limit.retry_after("192.0.2.2") == 0
