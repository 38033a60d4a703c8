"""Import columns -> contact fields: suggestions from headers, row validation.

Pure code.  A *mapping* assigns each column of the file a target (``""``
ignores the column): a built-in field (``given_name``, ``email``, ...) or an
own field (``custom:<key>``).  :func:`suggest` proposes one from the header
row, in English or German; :func:`read_row` turns one row into a
:class:`~kmdav.contacts.cards.ContactDraft` plus the reasons it cannot be imported, each an
English message with its values apart (translated where it is shown).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from kmdav.contacts.cards import COMPANY, PERSON, ContactDraft
from kmdav.dav.vcard import LabeledValue, PostalAddress
from kmdav.errors import KmdavError, ValidationError
from kmdav.i18n import N_
from kmdav.mail import check_address

CUSTOM = "custom:"


@dataclass(frozen=True)
class Target:
    key: str
    label: str
    #: Header spellings that suggest this target, normalised (see :func:`header_key`).
    headers: tuple[str, ...] = ()


#: The built-in targets, in the order the mapping form offers them.
TARGETS: tuple[Target, ...] = (
    Target("given_name", N_("First name"), ("vorname", "firstname", "givenname", "first")),
    Target(
        "family_name",
        N_("Last name"),
        ("nachname", "lastname", "familyname", "surname", "familienname", "zuname", "last"),
    ),
    Target(
        "company",
        N_("Company"),
        (
            "firma",
            "company",
            "organisation",
            "organization",
            "unternehmen",
            "org",
            "firmenname",
            "companyname",
            "arbeitgeber",
        ),
    ),
    Target(
        "title",
        N_("Position"),
        (
            "position",
            "titel",
            "title",
            "jobtitle",
            "funktion",
            "berufsbezeichnung",
            "rolle",
            "role",
        ),
    ),
    Target(
        "email",
        N_("E-mail"),
        (
            "email",
            "mail",
            "emailadresse",
            "emailaddress",
            "email1",
            "emailgeschaeftlich",
            "businessemail",
            "workemail",
        ),
    ),
    Target(
        "email_home",
        N_("E-mail (private)"),
        (
            "email2",
            "emailprivat",
            "emailprivate",
            "privateemail",
            "homeemail",
            "emailhome",
            "privatemail",
        ),
    ),
    Target(
        "phone",
        N_("Phone"),
        (
            "telefon",
            "phone",
            "tel",
            "telefonnummer",
            "phonenumber",
            "telephone",
            "festnetz",
            "businessphone",
            "telefongeschaeftlich",
            "workphone",
            "telefonbuero",
        ),
    ),
    Target(
        "phone_home",
        N_("Phone (private)"),
        ("telefonprivat", "phoneprivate", "homephone", "privatephone", "phonehome", "telprivat"),
    ),
    Target(
        "mobile",
        N_("Mobile"),
        (
            "mobil",
            "mobile",
            "handy",
            "mobiltelefon",
            "mobilenumber",
            "cell",
            "cellphone",
            "mobilephone",
            "mobilnummer",
            "handynummer",
        ),
    ),
    Target("fax", N_("Fax"), ("fax", "telefax", "faxnummer", "businessfax")),
    Target(
        "street",
        N_("Street"),
        (
            "strasse",
            "street",
            "adresse",
            "address",
            "streetaddress",
            "anschrift",
            "strassehausnummer",
            "strasseundhausnummer",
            "businessstreet",
        ),
    ),
    Target(
        "postal_code",
        N_("Postal code"),
        ("plz", "postleitzahl", "zip", "zipcode", "postalcode", "postcode", "businesspostalcode"),
    ),
    Target("city", N_("City"), ("ort", "stadt", "city", "town", "wohnort", "businesscity")),
    Target("region", N_("Region"), ("bundesland", "region", "state", "province", "kanton")),
    Target(
        "country", N_("Country"), ("land", "country", "staat", "countryregion", "businesscountry")
    ),
    Target(
        "birthday",
        N_("Birthday"),
        ("geburtstag", "birthday", "geburtsdatum", "dateofbirth", "birthdate", "dob"),
    ),
    Target(
        "note",
        N_("Note"),
        (
            "notiz",
            "notizen",
            "note",
            "notes",
            "bemerkung",
            "bemerkungen",
            "kommentar",
            "comment",
            "comments",
            "anmerkung",
            "anmerkungen",
        ),
    ),
    Target(
        "tags",
        N_("Tags"),
        (
            "tags",
            "tag",
            "schlagworte",
            "schlagwoerter",
            "schlagwort",
            "kategorien",
            "categories",
            "kategorie",
            "category",
            "gruppen",
            "labels",
            "stichworte",
        ),
    ),
    Target(
        "kind",
        N_("Person or company"),
        ("typ", "type", "kind", "art", "kontaktart", "personorcompany", "personoderfirma"),
    ),
)
TARGET_KEYS = frozenset(target.key for target in TARGETS)
_BY_HEADER = {header: target.key for target in TARGETS for header in target.headers}

#: Values of the "kind" column that mean a company (normalised).
COMPANY_WORDS = frozenset(
    {"company", "firma", "unternehmen", "org", "organisation", "organization", "betrieb"}
)
_TAG_SPLIT = re.compile(r"[;,]")
_EMAIL_SPLIT = re.compile(r"[;,\s]+")
_GERMAN_DATE = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})")
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_PHONES = (("phone", "work"), ("phone_home", "home"), ("mobile", "cell"), ("fax", "fax"))
_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})

#: An own field as the import sees it: key, label and how to check a value
#: (returns the stored form or raises ValidationError).
Normaliser = Callable[[str], str]


@dataclass(frozen=True)
class OwnField:
    key: str
    label: str
    normalise: Normaliser = str.strip


def header_key(text: str) -> str:
    """A header as compared: lower case, umlauts folded, letters and digits only."""
    folded = text.strip().lower().translate(_FOLD)
    folded = unicodedata.normalize("NFKD", folded)
    return "".join(char for char in folded if char.isascii() and char.isalnum())


def suggest(headers: Sequence[str], own_fields: Sequence[OwnField] = ()) -> list[str]:
    """A target per column (``""``: not imported); each target once, the
    first column that names it wins."""
    own: dict[str, str] = {}
    for own_field in own_fields:
        own.setdefault(header_key(own_field.label), CUSTOM + own_field.key)
        own.setdefault(header_key(own_field.key), CUSTOM + own_field.key)
    taken: set[str] = set()
    suggested = []
    for header in headers:
        name = header_key(header)
        target = own.get(name) or _BY_HEADER.get(name, "")
        if target in taken:
            target = ""
        if target:
            taken.add(target)
        suggested.append(target)
    return suggested


def check_mapping(mapping: Sequence[str], own_fields: Sequence[OwnField]) -> list[str]:
    """The mapping as sent by the form, or ValidationError."""
    known = TARGET_KEYS | {CUSTOM + f.key for f in own_fields}
    seen: set[str] = set()
    for target in mapping:
        if not target:
            continue
        if target not in known:
            raise ValidationError(
                "%(target)r is not a field to import into.", field="mapping", target=target
            )
        if target in seen:
            raise ValidationError(
                "Two columns are mapped to the same field (%(target)s).",
                field="mapping",
                target=target,
            )
        seen.add(target)
    if not seen & {"given_name", "family_name", "company", "email"}:
        raise ValidationError(
            "Map at least one column to a name, the company or the e-mail address.",
            field="mapping",
        )
    return list(mapping)


# -- rows ----------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """Why a row cannot be imported: an English msgid and its values."""

    message: str
    params: Mapping[str, str] = field(default_factory=dict)
    #: The own field the problem is about (its label), shown before the text.
    column: str = ""

    def text(self, gettext: Callable[[str], str] = lambda m: m) -> str:
        translated = gettext(self.message)
        if self.params:
            translated = translated % dict(self.params)
        return f"{self.column}: {translated}" if self.column else translated

    @classmethod
    def of(cls, error: KmdavError, column: str = "") -> Problem:
        params = {k: str(v) for k, v in error.params.items()}
        return cls(error.message or str(error), params, column)


def parse_date(text: str) -> str:
    """``YYYY-MM-DD`` from ``1980-12-31`` or ``31.12.1980``; ValidationError else."""
    value = text.strip()
    german = _GERMAN_DATE.fullmatch(value)
    iso = _ISO_DATE.fullmatch(value)
    try:
        if german:
            return date(int(german[3]), int(german[2]), int(german[1])).isoformat()
        if iso:
            return date(int(iso[1]), int(iso[2]), int(iso[3])).isoformat()
    except ValueError:
        pass
    raise ValidationError(
        "%(value)r is not a date (write 31.12.1980 or 1980-12-31).",
        field="birthday",
        value=value,
    )


def _emails(text: str) -> list[str]:
    return [check_address(part, "email") for part in _EMAIL_SPLIT.split(text) if part]


def _row_values(row: Sequence[str], mapping: Sequence[str]) -> dict[str, str]:
    return {
        target: row[index]
        for index, target in enumerate(mapping)
        if target and index < len(row) and row[index]
    }


def _emails_of(values: Mapping[str, str], problems: list[Problem]) -> tuple[LabeledValue, ...]:
    emails: list[LabeledValue] = []
    for target, label in (("email", "work"), ("email_home", "home")):
        if target in values:
            try:
                emails.extend(LabeledValue(address, label) for address in _emails(values[target]))
            except ValidationError as error:
                problems.append(Problem.of(error))
    return tuple(emails)


def _address_of(values: Mapping[str, str]) -> tuple[PostalAddress, ...]:
    parts = {k: values.get(k, "") for k in ("street", "city", "region", "postal_code", "country")}
    if not any(parts.values()):
        return ()
    return (
        PostalAddress(
            label="work",
            street=parts["street"],
            locality=parts["city"],
            region=parts["region"],
            postal_code=parts["postal_code"],
            country=parts["country"],
        ),
    )


def _custom_of(
    values: Mapping[str, str], own_fields: Mapping[str, OwnField], problems: list[Problem]
) -> dict[str, str]:
    custom: dict[str, str] = {}
    for target, raw in values.items():
        if target.startswith(CUSTOM):
            own = own_fields[target[len(CUSTOM) :]]
            try:
                custom[own.key] = own.normalise(raw)
            except KmdavError as error:
                problems.append(Problem.of(error, own.label))
    return custom


def read_row(
    row: Sequence[str], mapping: Sequence[str], own_fields: Mapping[str, OwnField]
) -> tuple[ContactDraft, list[Problem]]:
    """One data row as a record, with every reason it cannot be imported."""
    values = _row_values(row, mapping)
    problems: list[Problem] = []
    emails = _emails_of(values, problems)
    phones = tuple(
        LabeledValue(values[target], label) for target, label in _PHONES if target in values
    )
    birthday = ""
    if "birthday" in values:
        try:
            birthday = parse_date(values["birthday"])
        except ValidationError as error:
            problems.append(Problem.of(error))
    custom = _custom_of(values, own_fields, problems)
    given, family, company = (values.get(k, "") for k in ("given_name", "family_name", "company"))
    kind = PERSON
    if header_key(values.get("kind", "")) in COMPANY_WORDS or (company and not given + family):
        kind = COMPANY
    tags = tuple(
        dict.fromkeys(t.strip() for t in _TAG_SPLIT.split(values.get("tags", "")) if t.strip())
    )
    record = ContactDraft(
        kind=kind,
        given_name=given,
        family_name=family,
        company=company,
        title=values.get("title", ""),
        emails=emails,
        phones=phones,
        addresses=_address_of(values),
        birthday=birthday,
        note=values.get("note", ""),
        tags=tags,
        custom=custom,
    )
    if not (given or family or company or emails) and not problems:
        problems.append(Problem(N_("The row has no name, company or e-mail address.")))
    return record, problems
