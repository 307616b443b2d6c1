"""``/v1/puk-orders``: PUK orders.

A request only proposes an order; it is placed only when the person clicks the order button
on the agent's order page (cardagent/pages/orders.py).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from cardagent.api.deps import OrdersDep
from cardagent.models import PukOrderOut, PukOrderRequest

router = APIRouter(tags=["puk-orders"])


@router.post(
    "/puk-orders",
    response_model=PukOrderOut,
    status_code=201,
    summary="Propose a PUK order for the card in the reader; the person places it on the "
    "order page (confirm_page_url)",
    responses={200: {"model": PukOrderOut, "description": "The card's open order"}},
)
def post_puk_order(orders: OrdersDep, response: Response, body: PukOrderRequest) -> Any:
    order, created = orders.create()
    if not created:
        response.status_code = 200
    return {**order, "created": created}


@router.get("/puk-orders/{order_id}", response_model=PukOrderOut, summary="Status of a PUK order")
def get_puk_order(orders: OrdersDep, order_id: str) -> Any:
    return orders.view(order_id)
