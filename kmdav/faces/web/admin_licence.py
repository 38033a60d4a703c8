"""``/web/admin/licence``: seats per module and the monthly cost.

Prices come from the ``[licence]`` settings; the sums are
:func:`kmdav.accounts.licence.licence_overview`'s.
"""

from __future__ import annotations

from decimal import Decimal

from babel.numbers import format_currency
from starlette.responses import Response
from starlette.routing import Route

from kmdav.accounts import licence
from kmdav.faces.web._web import Call, page


def money(amount: Decimal, currency: str, language: str) -> str:
    """An amount as readers of ``language`` write it: ``€270.00``, ``270,00 €``."""
    return format_currency(amount, currency, locale=language)


@page(admin=True)
def licence_page(call: Call) -> Response:
    overview = licence.licence_overview(call.session, call.web.settings.licence)
    return call.render(
        "admin_licence.html",
        overview=overview,
        money=lambda amount: money(amount, overview.currency, call.language),
    )


routes = [Route("/admin/licence", licence_page, methods=["GET"], name="web_admin_licence")]
