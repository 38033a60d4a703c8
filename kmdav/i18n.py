"""The languages kmdav speaks to people, and their gettext catalogs.

English is the source language: every text is written in English in the
code and the templates and marked for extraction (``_()`` / ``{% trans %}``
in templates, :func:`N_` or a domain error's message in Python).  ``make
messages`` extracts them and updates ``webui/locale/<lang>/LC_MESSAGES/
messages.po``.

Catalogs are read from those ``.po`` files when the server starts and
compiled in memory, so no compiled ``.mo`` file is ever committed or has to
be rebuilt by hand: an edited catalog takes effect at the next start.
Fuzzy entries are left out (they would show a guessed translation).
"""

from __future__ import annotations

import gettext
from collections.abc import Mapping
from importlib.resources import files
from io import BytesIO

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

DEFAULT_LANGUAGE = "en"
#: Language code -> its name in that language (what the switcher shows).
LANGUAGES: Mapping[str, str] = {"en": "English", "de": "Deutsch"}
CATALOG_DOMAIN = "messages"


def N_(message: str) -> str:
    """Mark ``message`` for extraction; it is translated where it is shown."""
    return message


def supported(language: object) -> str | None:
    """``language`` when kmdav speaks it, else ``None``."""
    return language if isinstance(language, str) and language in LANGUAGES else None


def negotiate(accept_language: str | None) -> str:
    """The best language for an ``Accept-Language`` header (RFC 9110 12.5.4).

    Ranges are matched on their primary subtag (``de-AT`` means German);
    ``q=0`` excludes a language; ties keep the header's order.
    """
    choices: list[tuple[float, int, str]] = []
    for position, item in enumerate((accept_language or "").split(",")):
        tag, _, parameters = item.strip().partition(";")
        quality = 1.0
        for parameter in parameters.split(";"):
            name, _, value = parameter.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        primary = tag.strip().lower().split("-", 1)[0]
        if quality > 0 and primary in LANGUAGES:
            choices.append((-quality, position, primary))
    return min(choices)[2] if choices else DEFAULT_LANGUAGE


def catalog_path(language: str) -> str:
    locale = files("kmdav.webui") / "locale" / language / "LC_MESSAGES"
    return str(locale / f"{CATALOG_DOMAIN}.po")


def load_translations(language: str) -> gettext.NullTranslations:
    """The translations of ``language``, compiled in memory from its ``.po``."""
    if language == DEFAULT_LANGUAGE:
        return gettext.NullTranslations()
    with open(catalog_path(language), "rb") as po:
        catalog = read_po(po, locale=language, domain=CATALOG_DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def load_all() -> dict[str, gettext.NullTranslations]:
    return {language: load_translations(language) for language in LANGUAGES}
