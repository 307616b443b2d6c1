"""Request security: bearer token dependency, Origin allowlist with CORS/PNA, Host check.

Threat model: the agent runs on the user's workstation and can read their card. Local web
pages must not be able to read it (Origin allowlist; DNS rebinding is stopped by the Host
check), and other local processes need the bearer token.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.routing import compile_path

from cardagent.pages.render import PAGE_HEADERS, area_of, error_page_bytes, is_page_path
from cardagent.peer import PeerCheck
from cardagent.settings import Settings

log = logging.getLogger("cardagent.security")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

bearer_scheme = HTTPBearer(
    auto_error=False, description="Token from CARDAGENT_TOKEN or <data_dir>/token"
)

CORS_ALLOW_METHODS = "GET, POST, PUT, DELETE, OPTIONS"
CORS_ALLOW_HEADERS = "Authorization, Content-Type"
CORS_MAX_AGE = "600"


class Unauthorized(Exception):
    """Missing or wrong bearer token."""


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


# What the intranet chat widget may ask for the bot through the browser relay
# (method, route template): read the state, run the upgrade, order a PUK.
RELAY_ROUTES = frozenset(
    {
        ("GET", "/v1/card/state"),
        ("POST", "/v1/upgrade"),
        ("GET", "/v1/jobs/{job_id}"),
        ("POST", "/v1/puk-orders"),
        ("GET", "/v1/puk-orders/{order_id}"),
    }
)


_RELAY_PATTERNS = tuple((method, compile_path(path)[0]) for method, path in sorted(RELAY_ROUTES))


def is_relay_route(method: str, path: str) -> bool:
    """The request's method and path match one of RELAY_ROUTES (path templates)."""
    return any(m == method and rx.fullmatch(path) for m, rx in _RELAY_PATTERNS)


def is_browser_relay(request: Request) -> bool:
    """A relay call from the chat widget: relay on, an allowlisted Origin (the
    middleware has already refused any other), one of the relay routes, and a caller
    that runs as the agent's own user (another local user can fake the Origin)."""
    settings: Settings = request.app.state.settings
    origin = (request.headers.get("origin") or "").rstrip("/")
    return (
        settings.browser_relay
        and bool(origin)
        and origin in settings.allowed_origins
        and is_relay_route(request.method, request.url.path)
        and request.app.state.peer_check(request.scope)
    )


def require_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> None:
    """FastAPI dependency for every /v1 route: constant-time bearer token check
    (or, for the relay routes only, an allowlisted browser origin with relay on)."""
    expected: str = request.app.state.token
    if credentials is None and is_browser_relay(request):
        return
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized()
    if not hmac.compare_digest(
        credentials.credentials.encode("utf-8", "surrogateescape"), expected.encode()
    ):
        raise Unauthorized()


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _host_only(host_header: str) -> str:
    host = host_header.strip().lower()
    if host.startswith("["):
        end = host.find("]")
        return host[: end + 1] if end > 0 else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class OriginGuardMiddleware:
    """Pure ASGI middleware, runs before routing and auth.

    * Host header must name a loopback host (anti DNS-rebinding).
    * A request with an ``Origin`` header is refused (403) unless the origin is allowlisted.
    * Allowlisted origins get CORS headers; preflights (incl. Private Network Access) are
      answered here with 204.
    """

    def __init__(self, app: ASGIApp, settings: Settings, peer_check: PeerCheck) -> None:
        self.app = app
        self.peer_check = peer_check
        self.allowed_origins = {o.rstrip("/") for o in settings.allowed_origins}
        self.allowed_hosts = {h.lower() for h in settings.allowed_hosts}
        self.own_origins = {f"http://{h}:{settings.port}" for h in self.allowed_hosts}
        self.region_name = settings.region_name

    def page_post_allowed(self, scope: Scope) -> bool:
        """A POST to the agent's own pages must come from those pages: ``Origin`` equal to
        the agent's own origin (the one this request was sent to) or ``Sec-Fetch-Site:
        same-origin``. Refused: neither header (a non-browser client or a very old browser),
        ``Origin: null`` or another origin, ``Sec-Fetch-Site`` cross-site, same-site (another
        port on 127.0.0.1 is same-site) or none."""
        origin = _header(scope, b"origin")
        site = _header(scope, b"sec-fetch-site")
        if origin is None and site is None:
            return False
        if origin is not None:
            host = (_header(scope, b"host") or "").strip().lower()
            own = origin.strip().lower()
            if own not in self.own_origins or (host and own != f"http://{host}"):
                return False
        return site is None or site.strip().lower() == "same-origin"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        page = is_page_path(path)
        host = _header(scope, b"host")
        if host is not None and _host_only(host) not in self.allowed_hosts:
            if page:
                await _html(send, *error_page_bytes("host", self.region_name, area=area_of(path)))
                return
            await _json(
                send, 403, {"error": "host_not_allowed", "message": "Host header not allowed."}
            )
            return
        origin = _header(scope, b"origin")
        if page:
            # The agent's own pages (/pin/, /orders/): no CORS at all, HTML errors only, only
            # for programs of the agent's own user (opening a link spends it), and a POST only
            # from the page itself.
            if area_of(path) and not self.peer_check(scope):
                log.warning("page %s refused: the caller runs as another user", scope["method"])
                await _html(
                    send, *error_page_bytes("other_user", self.region_name, area=area_of(path))
                )
                return
            if scope["method"] not in ("GET", "HEAD") and not self.page_post_allowed(scope):
                log.warning("page %s refused: not sent from the agent's own page", scope["method"])
                await _html(
                    send, *error_page_bytes("wrong_origin", self.region_name, area=area_of(path))
                )
                return
            await self.app(scope, receive, send)
            return
        if origin is None:
            await self.app(scope, receive, send)
            return
        if origin.rstrip("/") not in self.allowed_origins:
            await _json(
                send,
                403,
                {"error": "origin_not_allowed", "message": "Origin not allowed."},
                extra=[(b"vary", b"Origin")],
            )
            return
        cors = [
            (b"access-control-allow-origin", origin.encode("latin-1")),
            (b"vary", b"Origin"),
        ]
        if (
            scope["method"] == "OPTIONS"
            and _header(scope, b"access-control-request-method") is not None
        ):
            headers = cors + [
                (b"access-control-allow-methods", CORS_ALLOW_METHODS.encode()),
                (b"access-control-allow-headers", CORS_ALLOW_HEADERS.encode()),
                (b"access-control-max-age", CORS_MAX_AGE.encode()),
            ]
            if (_header(scope, b"access-control-request-private-network") or "").lower() == "true":
                headers.append((b"access-control-allow-private-network", b"true"))
            await send(
                {
                    "type": "http.response.start",
                    "status": 204,
                    "headers": headers + [(b"content-length", b"0")],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = dict(message)
                message["headers"] = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"vary"
                ] + cors
            await send(message)

        await self.app(scope, receive, send_with_cors)


async def _html(send: Send, status: int, data: bytes) -> None:
    headers = [
        (b"content-type", b"text/html; charset=utf-8"),
        (b"content-length", str(len(data)).encode()),
    ] + [(k.lower().encode(), v.encode()) for k, v in PAGE_HEADERS.items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


async def _json(
    send: Send, status: int, body: dict[str, Any], extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    data = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    await send(
        {"type": "http.response.start", "status": status, "headers": headers + (extra or [])}
    )
    await send({"type": "http.response.body", "body": data})
