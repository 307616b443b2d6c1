"""The /v1 router: every route module under it, all behind the bearer token.

A new resource adds its module in cardagent/api/routes/ and is included here; it inherits
the token dependency and the documented error answers.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from cardagent.api.responses import ERROR_RESPONSES
from cardagent.api.routes import agent, card, orders, upgrade
from cardagent.security import require_token


def build_v1_router() -> APIRouter:
    v1 = APIRouter(prefix="/v1", dependencies=[Depends(require_token)], responses=ERROR_RESPONSES)
    v1.include_router(card.router)
    v1.include_router(agent.router)
    v1.include_router(upgrade.router)
    v1.include_router(orders.router)
    return v1
