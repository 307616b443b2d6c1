"""Every failure as a clear answer: JSON under /v1 (masked; ``error`` is the code, ``message``
short English for developers), a Swedish HTML page on the agent's own pages (/pin/, /orders/)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from cardagent.api.responses import MaskingJSONResponse, error_response
from cardagent.errors import AgentError
from cardagent.pages.render import area_of, error_page, is_page_path
from cardagent.security import Unauthorized

log = logging.getLogger("cardagent")


def _page_error(request: Request, kind: str) -> Response | None:
    """On the agent's own pages (/pin/, /orders/) every error is a Swedish HTML page."""
    path = request.url.path
    if not is_page_path(path):
        return None
    return error_page(kind, request.app.state.settings.region_name, area=area_of(path))


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AgentError)
    async def _agent_error(request: Request, exc: AgentError) -> Response:
        log.warning("%s: %s", exc.code, exc.detail)
        html = _page_error(request, "not_found" if exc.status == 404 else "internal")
        if html is not None:
            return html
        return MaskingJSONResponse(exc.to_dict(), status_code=exc.status)

    @app.exception_handler(Unauthorized)
    async def _unauthorized(_request: Request, _exc: Unauthorized) -> JSONResponse:
        return error_response(
            401,
            "unauthorized",
            "Missing or wrong bearer token.",
            headers={"WWW-Authenticate": "Bearer"},
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        html = _page_error(request, "bad_form")
        if html is not None:
            return html
        errors = [
            {"loc": [str(x) for x in e.get("loc", ())], "msg": str(e.get("msg", ""))}
            for e in exc.errors()
        ]
        return error_response(422, "invalid_request", "Invalid request.", errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        page_kind = {404: "not_found", 405: "method"}.get(exc.status_code, "bad_form")
        html = _page_error(request, page_kind)
        if html is not None:
            return html
        codes = {400: "invalid_request", 404: "not_found", 405: "method_not_allowed"}
        return error_response(
            exc.status_code,
            codes.get(exc.status_code, "http_error"),
            str(exc.detail),
            headers=exc.headers,
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error: %s", type(exc).__name__)
        html = _page_error(request, "internal")
        if html is not None:
            return html
        return error_response(
            500, "internal_error", "Unexpected error in the card agent.", type(exc).__name__
        )
