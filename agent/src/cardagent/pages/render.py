"""Rendering of the agent's own pages: Jinja2 templates (autoescape on), security headers,
and the Swedish error pages (also used by the Origin guard, before routing).

Every word a person reads on these pages lives in ``cardagent/templates/``; this module only
chooses the template and passes facts (job status, card facts, the region's name).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"

env = Environment(
    loader=FileSystemLoader(str(TEMPLATES)),
    autoescape=select_autoescape(["html"], default_for_string=True, default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

# Sent with every page and error page under /pin/ and /orders/.
# Referrer-Policy same-origin: a same-origin form POST carries the page's real Origin
# (with no-referrer Chromium sends "Origin: null" and the guard could not tell it apart
# from an attacker's sandboxed frame); other sites get no referrer, so the link token in a
# URL never leaks in a Referer header.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


@dataclass(frozen=True)
class ErrorKind:
    status: int
    template_key: str


# Which error page for which case (texts in templates/error.html, keyed by template_key).
ERRORS: dict[str, ErrorKind] = {
    "link_invalid": ErrorKind(404, "link_invalid"),
    "link_used": ErrorKind(403, "link_used"),
    "link_expired": ErrorKind(410, "link_expired"),
    "no_session": ErrorKind(403, "link_used"),
    "wrong_origin": ErrorKind(403, "wrong_origin"),
    "bad_form": ErrorKind(400, "bad_form"),
    "too_large": ErrorKind(413, "too_large"),
    "not_found": ErrorKind(404, "not_found"),
    "method": ErrorKind(405, "method"),
    "host": ErrorKind(403, "host"),
    "other_user": ErrorKind(403, "other_user"),
    "internal": ErrorKind(500, "internal"),
}


def render_html(template: str, region_name: str, **context: Any) -> str:
    return env.get_template(template).render(region_name=region_name or "", **context)


def page(
    template: str,
    region_name: str,
    *,
    status: int = 200,
    refresh: int | None = None,
    **context: Any,
) -> HTMLResponse:
    html = render_html(template, region_name, refresh=refresh, **context)
    return HTMLResponse(html, status_code=status, headers=dict(PAGE_HEADERS))


def error_page(kind: str, region_name: str, *, area: str = "") -> HTMLResponse:
    """A Swedish error page: what happened and what to do next. ``area`` is "pin" or "orders"."""
    err = ERRORS.get(kind, ERRORS["internal"])
    return page(
        "error.html",
        region_name,
        status=err.status,
        error=err.template_key,
        area=area,
    )


def error_page_bytes(kind: str, region_name: str, *, area: str = "") -> tuple[int, bytes]:
    """For the ASGI guard, which answers before routing: (status, body)."""
    resp = error_page(kind, region_name, area=area)
    return resp.status_code, bytes(resp.body)


def area_of(path: str) -> str:
    if path.startswith("/pin/") or path == "/pin":
        return "pin"
    if path.startswith("/orders/") or path == "/orders":
        return "orders"
    return ""


def is_page_path(path: str) -> bool:
    return area_of(path) != "" or path.startswith("/page-assets/")
