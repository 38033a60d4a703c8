"""The licence overview: seats per module and what they cost a month.

Every active user pays the contacts base; each seat of another module is
billed per user at its price (``[licence]`` in the settings).  Disabled
users keep their seats but are not billed.  Money is ``Decimal`` only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from kmdav.accounts.modules import BASE_MODULE, SEAT_MODULES, label, seat_holders
from kmdav.models import User
from kmdav.settings import LicenceSettings


@dataclass(frozen=True)
class LicenceLine:
    """One module: who holds it, the price per seat, the monthly amount."""

    module: str
    label: str
    users: tuple[str, ...]
    unit_price: Decimal
    amount: Decimal

    @property
    def seats(self) -> int:
        return len(self.users)


@dataclass(frozen=True)
class Licence:
    currency: str
    lines: tuple[LicenceLine, ...]
    total: Decimal


def monthly_cost(base_users: int, seats: Mapping[str, int], prices: LicenceSettings) -> Decimal:
    """What ``base_users`` active users and ``seats`` (module -> seat count) cost a month."""
    total = prices.base_price * base_users
    for module, count in seats.items():
        total += prices.price_of(module) * count
    return total


def licence_overview(session: Session, prices: LicenceSettings) -> Licence:
    """The base line, then one line per seat module (also those nobody holds)."""
    active = list(
        session.scalars(
            select(User.username).where(User.is_active.is_(True)).order_by(User.username)
        )
    )
    holders = seat_holders(session)
    lines = [_line(BASE_MODULE, tuple(active), prices.base_price)]
    for module in SEAT_MODULES:
        users = tuple(user.username for user in holders.get(module, []))
        lines.append(_line(module, users, prices.price_of(module)))
    total = monthly_cost(len(active), {line.module: line.seats for line in lines[1:]}, prices)
    return Licence(currency=prices.currency, lines=tuple(lines), total=total)


def _line(module: str, users: tuple[str, ...], unit_price: Decimal) -> LicenceLine:
    return LicenceLine(
        module=module,
        label=label(module),
        users=users,
        unit_price=unit_price,
        amount=unit_price * len(users),
    )
