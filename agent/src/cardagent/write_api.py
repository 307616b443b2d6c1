"""JSON routes of the write side under /v1: /v1/upgrade, /v1/jobs, /v1/puk-orders.

None of them can move a job or place an order by itself: an upgrade runs only when the PINs
are typed on the agent's PIN page, a PUK order is placed only when the person clicks
"Beställ" on the agent's order page. Those pages live in cardagent/pages/.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from cardagent.models import JobOut, PukOrderOut, PukOrderRequest, UpgradeRequest
from cardagent.orders import PukOrders
from cardagent.upgrade import UpgradeManager

jobs_router = APIRouter(tags=["upgrade"])
orders_router = APIRouter(tags=["puk-orders"])


def _upgrades(request: Request) -> UpgradeManager:
    return request.app.state.upgrades


def _orders(request: Request) -> PukOrders:
    return request.app.state.orders


@jobs_router.post(
    "/upgrade",
    response_model=JobOut,
    status_code=201,
    summary="Start the certificate upgrade of the card in the reader",
    responses={200: {"model": JobOut, "description": "The card's active job already existed"}},
)
def post_upgrade(request: Request, response: Response, body: UpgradeRequest | None = None) -> Any:
    job, created = _upgrades(request).start()
    if not created:
        response.status_code = 200
    return {**job, "created": created}


@jobs_router.get("/jobs/{job_id}", response_model=JobOut, summary="Status of an upgrade job")
def get_job(request: Request, job_id: str) -> Any:
    return _upgrades(request).view(job_id)


@orders_router.post(
    "/puk-orders",
    response_model=PukOrderOut,
    status_code=201,
    summary="Propose a PUK order for the card in the reader; the person places it on the "
    "order page (confirm_page_url)",
    responses={200: {"model": PukOrderOut, "description": "The card's open order"}},
)
def post_puk_order(request: Request, response: Response, body: PukOrderRequest) -> Any:
    order, created = _orders(request).create()
    if not created:
        response.status_code = 200
    return {**order, "created": created}


@orders_router.get(
    "/puk-orders/{order_id}", response_model=PukOrderOut, summary="Status of a PUK order"
)
def get_puk_order(request: Request, order_id: str) -> Any:
    return _orders(request).view(order_id)
