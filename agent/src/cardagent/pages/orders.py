"""The order page: ``/orders/{order_id}`` - where the person consents to a PUK order.

``POST /v1/puk-orders`` only proposes an order. This page says what it is, what it costs (the
amount from the settings, worded as the FAQ does in the template) and which card it is for,
with an order and a cancel button. Only a POST of ``action=order`` from this page (own origin,
page session, CSRF field) places the order; placing is idempotent, so a double click or a
resubmitted form places it once.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from cardagent.orders import OrderNotFound, PukOrders
from cardagent.pages.common import checked_form, enter_page, fail, keep_session, region, see_other
from cardagent.pages.common import valid_id as _valid_id
from cardagent.pages.links import csrf_for
from cardagent.pages.render import page

router = APIRouter(include_in_schema=False)
AREA = "orders"


def _orders(request: Request) -> PukOrders:
    return request.app.state.orders


def _facts(orders: PukOrders, order_id: str) -> dict | None:
    """What the order page shows, or None for an unknown order."""
    if not _valid_id(order_id):
        return None
    try:
        return orders.page_facts(order_id)
    except OrderNotFound:
        return None


@router.get("/orders/{order_id}")
def order_page(request: Request, order_id: str, t: str | None = None) -> Response:
    orders = _orders(request)
    facts = _facts(orders, order_id)
    session = enter_page(request, orders.links, AREA, order_id, t, facts is not None)
    if isinstance(session, Response):
        return session
    assert facts is not None
    return keep_session(
        _order_page(request, order_id, session, facts), orders.links, AREA, order_id, session
    )


def _order_page(request: Request, order_id: str, session: str, facts: dict) -> Response:
    """The consent step while the order waits for it, else the order's status."""
    if facts["order_status"] == "awaiting_confirmation":
        return page(
            "order_confirm.html",
            region(request),
            order_id=order_id,
            csrf=csrf_for(session, AREA, order_id),
            cost_sek=facts["cost_sek"],
            manual_url=facts["manual_url"],
            card=facts["card"],
        )
    return page(
        "order_status.html",
        region(request),
        refresh=5 if facts["order_status"] == "queued" else None,
        order_status=facts["order_status"],
        reference=facts["reference"],
        retrying=facts["retrying"],
        manual_url=facts["manual_url"],
    )


@router.post("/orders/{order_id}")
async def order_submit(request: Request, order_id: str) -> Response:
    orders = _orders(request)
    if _facts(orders, order_id) is None:
        return fail(request, "not_found", AREA)
    checked = await checked_form(request, orders.links, AREA, order_id)
    if isinstance(checked, Response):
        return checked
    session, form = checked
    action = form.get("action", "")
    if action == "order":
        orders.confirm(order_id)  # idempotent: a second click finds nothing to place
        resp = see_other(f"/orders/{order_id}")
    elif action == "cancel":
        orders.cancel(order_id)
        resp = see_other(f"/orders/{order_id}")
    else:
        resp = fail(request, "bad_form", AREA)
    return keep_session(resp, orders.links, AREA, order_id, session)
