"""The catalogs: nothing marked for translation is left untranslated.

Extraction here uses ``babel.cfg`` and the Makefile's keywords, exactly as
``make messages`` does, so a text added without a German translation (or
still fuzzy) fails this test until the catalog is updated.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from kmdav.errors import NotFoundError, ValidationError
from kmdav.i18n import LANGUAGES, catalog_path, load_translations, negotiate

ROOT = Path(__file__).resolve().parent.parent
TRANSLATED = [language for language in LANGUAGES if language != "en"]


def _error_keywords() -> list[str]:
    """The extra Babel keywords ``make messages`` uses (one source: the Makefile)."""
    match = re.search(r"^ERROR_KEYWORDS := (.+)$", (ROOT / "Makefile").read_text(), re.M)
    assert match, "the Makefile defines ERROR_KEYWORDS"
    return re.findall(r"-k (\w+)", match.group(1))


def _extracted() -> set[str | tuple[str, ...]]:
    with (ROOT / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)
    keywords = {**DEFAULT_KEYWORDS, **dict.fromkeys(_error_keywords())}
    found: set[str | tuple[str, ...]] = set()
    for _, _, message, _, _ in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=keywords
    ):
        found.add(message if isinstance(message, str) else tuple(message))
    return found


def _catalog(language: str) -> Catalog:
    with open(catalog_path(language), "rb") as po:
        return read_po(po, locale=language)


def test_extraction_finds_the_marked_texts() -> None:
    found = _extracted()
    assert "Log in" in found  # a template
    assert "Enter your password." in found  # the web face's Python
    assert "passwords need at least %(count)d characters" in found  # a domain error
    assert len(found) > 80


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_extracted_text_is_translated(language: str) -> None:
    catalog = _catalog(language)
    missing, fuzzy = [], []
    for msgid in sorted(_extracted(), key=str):
        message = catalog.get(msgid[0] if isinstance(msgid, tuple) else msgid)
        strings = message.string if message is not None else ""
        strings = strings if isinstance(strings, tuple) else (strings,)
        if message is None or not all(strings):
            missing.append(msgid)
        elif message.fuzzy:
            fuzzy.append(msgid)
    assert not missing, f"untranslated in {language} (run `make messages`): {missing}"
    assert not fuzzy, f"fuzzy in {language}: {fuzzy}"


@pytest.mark.parametrize("language", TRANSLATED)
def test_translations_keep_the_placeholders(language: str) -> None:
    problems = [
        (message.id, [str(error) for error in errors])
        for message, errors in _catalog(language).check()
        if errors
    ]
    assert not problems


def test_catalog_is_compiled_in_memory() -> None:
    german = load_translations("de")
    assert german.gettext("Log in") == "Anmelden"
    assert german.ngettext("%(count)s active app password.", "", 2) == (
        "%(count)s aktive App-Passwörter."
    )
    assert load_translations("en").gettext("Log in") == "Log in"


def test_domain_errors_carry_their_msgid_and_values() -> None:
    error = ValidationError("a user named %(name)r already exists", field="username", name="x")
    assert str(error) == "a user named 'x' already exists"
    assert error.message == "a user named %(name)r already exists"
    assert error.params == {"name": "x"}
    assert str(NotFoundError("no such user")) == "no such user"
    assert str(NotFoundError("100% plain")) == "100% plain"  # no values: no formatting


@pytest.mark.parametrize(
    ("header", "language"),
    [
        (None, "en"),
        ("", "en"),
        ("de", "de"),
        ("de-AT,de;q=0.9,en;q=0.8", "de"),
        ("fr-FR,fr;q=0.9,de;q=0.5,en;q=0.4", "de"),
        ("en-GB,de;q=0.9", "en"),
        ("de;q=0,en", "en"),
        ("fr", "en"),
        ("de;q=bogus,en;q=0.1", "en"),
    ],
)
def test_accept_language(header: str | None, language: str) -> None:
    assert negotiate(header) == language
