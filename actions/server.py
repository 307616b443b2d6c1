"""The action server, guarded: rasa-sdk's own app with one check in front.

Only Rasa calls the action server, and it adds the card agent's token itself,
so a caller must prove it is Rasa: every request except ``GET /health`` needs
the shared secret ``ACTION_SERVER_TOKEN`` (environment, or a 0600 file named by
``ACTION_SERVER_TOKEN_FILE``), which Rasa sends as the ``token`` query
parameter (``endpoints.yml``: ``action_endpoint.token``). Any request from a
web page (an ``Origin`` header, or ``Sec-Fetch-Site`` other than ``none`` /
``same-origin``) and any ``Host`` outside the allowlist (loopback +
``BOT_ALLOWED_HOSTS``) is refused too. No CORS, no access log (the token is in
the query string).

Run: ``python -m actions.server --port 5055`` (``make run`` does; host from
``SANIC_HOST``, default 127.0.0.1).
"""

from __future__ import annotations

import argparse
import hmac
import logging
import os
from typing import List, Optional

from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.doors import DoorPolicy, load_secret
from bot.site_config import SiteConfigError, check_production

logger = logging.getLogger(__name__)

TOKEN_ENV = "ACTION_SERVER_TOKEN"


def guard(app: Sanic, token: str, policy: DoorPolicy) -> None:
    """Refuse every request that is not Rasa's (403, short JSON, no details)."""
    if not token:
        raise ValueError("the action server token is empty")
    expected = token.encode()

    @app.on_request
    async def check(request: Request) -> Optional[HTTPResponse]:
        reason = policy.refusal(
            host=request.headers.get("host"),
            origin=request.headers.get("origin"),
            fetch_site=request.headers.get("sec-fetch-site"),
            allow_origin=False,
        )
        if reason is None and not (request.method == "GET" and request.path == "/health"):
            given = request.args.get("token") or ""
            if not hmac.compare_digest(given.encode(), expected):
                reason = "bad_token"
        if reason is not None:
            logger.warning("action server: refused %s %s (%s)",
                           request.method, request.path, reason)
            return response.json({"error": reason}, status=403)
        return None


def create_guarded_app(
    actions_package: str = "actions",
    token: Optional[str] = None,
    policy: Optional[DoorPolicy] = None,
) -> Sanic:
    """rasa-sdk's app for ``actions_package`` behind :func:`guard`."""
    from rasa_sdk.endpoint import create_app

    # A production start (SITHS_ENV=production) refuses site.yml's example values, and a bad
    # site.yml stops the start rather than the first card answer.
    try:
        check_production()
    except SiteConfigError as error:
        raise SystemExit(str(error)) from error
    token = token if token is not None else load_secret(TOKEN_ENV)
    if not token:
        raise SystemExit(
            f"{TOKEN_ENV} is not set: put it in the environment or in a 0600 file named by "
            f"{TOKEN_ENV}_FILE (make run creates one in the data directory)"
        )
    app = create_app(actions_package, cors_origins=[])
    app.config.ACCESS_LOG = False
    guard(app, token, policy or DoorPolicy.from_env())
    return app


def main(argv: Optional[List[str]] = None) -> None:
    from rasa_sdk import utils
    from rasa_sdk.constants import APPLICATION_ROOT_LOGGER_NAME
    from rasa_sdk.plugin import plugin_manager

    parser = argparse.ArgumentParser(description="the SITHS bot's action server (guarded)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("ACTION_PORT", "5055")))
    parser.add_argument("--actions", default="actions")
    parser.add_argument("--log-file", default=None)
    parser.add_argument("--debug", action="store_true")
    args = parser.parse_args(argv)

    level = logging.DEBUG if args.debug else logging.INFO
    utils.configure_colored_logging(level)
    utils.configure_file_logging(logging.getLogger(APPLICATION_ROOT_LOGGER_NAME), args.log_file,
                                 level, None)
    utils.update_sanic_log_level()

    app = create_guarded_app(args.actions)
    plugin_manager().hook.attach_sanic_app_extensions(app=app)
    host = os.environ.get("SANIC_HOST", "127.0.0.1")
    logger.info("Action endpoint is up and running on http://%s:%s", host, args.port)
    app.run(host, args.port, workers=1, access_log=False)


if __name__ == "__main__":
    main()
