"""The licence overview and its prices (issue #4's 270 EUR example)."""

from __future__ import annotations

import secrets
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from kmdav.accounts import licence, modules
from kmdav.accounts import service as accounts
from kmdav.errors import ConfigError
from kmdav.settings import LicenceSettings, load_settings


def _users(session: Session, count: int) -> list[str]:
    tag = secrets.token_hex(3)
    names = [f"lic-{tag}-{n}" for n in range(count)]
    for name in names:
        accounts.create_user(session, name, "licence-password-1")
    return names


def _fresh(session: Session) -> None:
    """The rolled-back session may see the users of migrations or other
    tests on a shared database: start from none."""
    for user in accounts.list_users(session):
        session.delete(user)
    session.flush()


def test_the_example_of_the_issue_costs_270_eur(session: Session) -> None:
    """10 users on the base, 2 with newsletter, 5 with projects and 5 with
    tasks: 150 + 20 + 50 + 50 EUR, whichever users hold the seats."""
    _fresh(session)
    names = _users(session, 10)
    for name in names[:2]:
        modules.assign_seat(session, accounts.require_user(session, name), "newsletter")
    for name in names[:5]:  # the same five hold projects and tasks
        user = accounts.require_user(session, name)
        modules.set_seats(session, user, modules.seats_of(session, user.id) | {"projects", "tasks"})
    overview = licence.licence_overview(session, LicenceSettings())
    assert overview.total == Decimal("270")
    assert overview.currency == "EUR"
    seats = {line.module: line.seats for line in overview.lines}
    assert seats == {
        "contacts": 10,
        "calendar": 0,
        "tasks": 5,
        "projects": 5,
        "time": 0,
        "sales": 0,
        "newsletter": 2,
        "sms": 0,
        "billing": 0,
        "products": 0,
        "documents": 0,
    }
    line = next(line for line in overview.lines if line.module == "newsletter")
    assert line.users == tuple(sorted(names[:2]))
    assert (line.unit_price, line.amount) == (Decimal("10"), Decimal("20"))
    # The same by the pure function, for any overlap of the seat holders.
    counts = {"newsletter": 2, "projects": 5, "tasks": 5}
    assert licence.monthly_cost(10, counts, LicenceSettings()) == Decimal("270")


def test_disabled_users_are_not_billed(session: Session) -> None:
    _fresh(session)
    first, second = _users(session, 2)
    modules.assign_seat(session, accounts.require_user(session, second), "sms")
    accounts.set_active(session, second, False)
    overview = licence.licence_overview(session, LicenceSettings())
    assert overview.total == Decimal("15")
    assert overview.lines[0].users == (first,)


def test_prices_come_from_the_settings_in_decimals(session: Session) -> None:
    _fresh(session)
    (name,) = _users(session, 1)
    modules.set_seats(session, accounts.require_user(session, name), ["sms", "billing"])
    prices = LicenceSettings(
        currency="CHF", base_price="12.35", module_price="0.10", prices={"sms": "4.05"}
    )
    overview = licence.licence_overview(session, prices)
    assert overview.total == Decimal("16.50")  # 12.35 + 0.10 + 4.05, no float drift
    assert overview.currency == "CHF"


@pytest.mark.parametrize(
    ("licence_settings", "message"),
    [
        ({"base_price": "-1"}, "licence.base_price"),
        ({"module_price": "ten"}, "licence.module_price"),
        ({"module_price": "nan"}, "licence.module_price"),
        ({"prices": {"sms": "-0.01"}}, "licence.prices"),
        ({"prices": {"contacts": "1"}}, "unknown module"),
        ({"prices": {"teleport": "1"}}, "unknown module"),
    ],
)
def test_invalid_prices_are_refused(licence_settings: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(licence=licence_settings)
