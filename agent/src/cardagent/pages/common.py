"""What the PIN page and the order page share: link opening, the page session cookie, the
POST checks (session, CSRF) and redirects."""

from __future__ import annotations

import hmac
import re

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from cardagent.pages.forms import SESSION_COOKIE, FormRefused, read_form
from cardagent.pages.links import PageLinks, csrf_for
from cardagent.pages.render import PAGE_HEADERS, error_page, page

ID_RE = re.compile(r"[0-9a-f]{16}")


def region(request: Request) -> str:
    return getattr(request.app.state.settings, "region_name", "") or ""


def fail(request: Request, kind: str, area: str) -> Response:
    return error_page(kind, region(request), area=area)


def valid_id(target_id: str) -> bool:
    return ID_RE.fullmatch(target_id) is not None


def see_other(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303, headers=dict(PAGE_HEADERS))


def open_link(
    request: Request, links: PageLinks, area: str, target_id: str, token: str
) -> Response:
    """First GET with the link token: spend it, set the session cookie, 303 to the bare URL."""
    path = f"/{area}/{target_id}"
    opened = links.open(target_id, token)
    if opened.result == "ok":
        assert opened.session is not None
        if request.headers.get("sec-fetch-site", "").lower() == "cross-site":
            # Opened from a link on another site (e.g. the chat on the intranet): a browser
            # does not send a SameSite=Strict cookie on a redirect of a cross-site navigation,
            # so the page moves on by itself (meta refresh, same-origin, replaces the history
            # entry with the token) instead of a 303.
            resp = page("opening.html", region(request), refresh_url=path, status=200)
        else:
            resp = see_other(path)
        return keep_session(resp, links, area, target_id, opened.session)
    if opened.result == "used" and links.check_session(
        target_id, request.cookies.get(SESSION_COOKIE)
    ):
        return see_other(path)  # the same browser opened its link again
    kind = {"used": "link_used", "expired": "link_expired"}.get(opened.result, "link_invalid")
    return fail(request, kind, area)


def keep_session(
    resp: Response, links: PageLinks, area: str, target_id: str, session: str
) -> Response:
    """Send the page session cookie with ``resp``, its Max-Age renewed.

    The stored session slides with each page request (``PageLinks.check_session``), so the
    cookie is sent again on every response to a request that passed the session check:
    a page in use keeps working past the first ``ttl_s``.
    """
    resp.set_cookie(
        SESSION_COOKIE,
        session,
        max_age=int(links.ttl_s),
        path=f"/{area}/{target_id}",
        httponly=True,
        samesite="strict",
    )
    return resp


def enter_page(
    request: Request, links: PageLinks, area: str, target_id: str, token: str | None, exists: bool
) -> str | Response:
    """A page GET: the person's page session, or the response to send instead (unknown
    target, the link being opened now, no session in this browser)."""
    if not exists:
        return fail(request, "link_invalid" if token is not None else "not_found", area)
    if token is not None:
        return open_link(request, links, area, target_id, token)
    session = session_of(request, links, target_id)
    return fail(request, "no_session", area) if session is None else session


def session_of(request: Request, links: PageLinks, target_id: str) -> str | None:
    session = request.cookies.get(SESSION_COOKIE)
    return session if links.check_session(target_id, session) else None


async def checked_form(
    request: Request, links: PageLinks, area: str, target_id: str
) -> tuple[str, dict[str, str]] | Response:
    """A page POST: the page session, then the form (size first), then its CSRF field."""
    session = session_of(request, links, target_id)
    if session is None:
        return fail(request, "no_session", area)
    try:
        form = await read_form(request)
    except FormRefused as exc:
        return fail(request, exc.kind, area)
    expected = csrf_for(session, area, target_id)
    if not hmac.compare_digest(form.get("csrf", "").encode(), expected.encode()):
        form.clear()
        return fail(request, "bad_form", area)
    return session, form
