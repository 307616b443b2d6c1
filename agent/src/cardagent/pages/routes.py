"""The router of the agent's own pages (see the package docstring)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from cardagent.pages import orders, pin
from cardagent.pages.render import TEMPLATES

page_router = APIRouter(include_in_schema=False)
page_router.include_router(pin.router)
page_router.include_router(orders.router)

_CSS = (TEMPLATES / "agent.css").read_bytes()


@page_router.get("/page-assets/agent.css")
def page_css() -> Response:
    return Response(
        _CSS,
        media_type="text/css; charset=utf-8",
        headers={"Cache-Control": "max-age=3600", "X-Content-Type-Options": "nosniff"},
    )
