"""Serve the demo intranet page with the chat widget (``make run``: :8080).

Only these are served: ``/`` (demo/index.html with the bot's URL filled in),
``/teams-tab`` (teams-tab.html, the Teams app's card tab, likewise), and the two
bundles with their source maps from ``dist/`` (``npm run build``).
Loopback only by default. Usage::

    python widget/serve.py --port 8080 --bot-url http://127.0.0.1:5005
"""

from __future__ import annotations

import argparse
import json
import secrets
from functools import partial
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
FILES = {
    "/siths-chat.js": (HERE / "dist" / "siths-chat.js", "text/javascript; charset=utf-8"),
    "/siths-chat.js.map": (HERE / "dist" / "siths-chat.js.map", "application/json"),
    "/siths-teams-tab.js": (HERE / "dist" / "siths-teams-tab.js", "text/javascript; charset=utf-8"),
    "/siths-teams-tab.js.map": (HERE / "dist" / "siths-teams-tab.js.map", "application/json"),
}
PAGES = {"/": HERE / "demo" / "index.html", "/index.html": HERE / "demo" / "index.html",
         "/teams-tab": HERE / "teams-tab.html"}
# teams-js fetches Microsoft's current list of Teams origins (it falls back to its own).
TEAMS_JS_CONNECT = "https://res.cdn.office.net"
# Teams shows the tab in a frame of its own pages (Microsoft's list for tabs).
TEAMS_FRAME_ANCESTORS = ("https://teams.microsoft.com https://*.teams.microsoft.com "
                         "https://*.cloud.microsoft https://*.skype.com https://*.office.com")


def websocket_origin(url: str) -> str:
    """``ws://host:port`` for ``http://host:port`` (``wss`` for ``https``)."""
    parts = urlsplit(url)
    return f"{'wss' if parts.scheme == 'https' else 'ws'}://{parts.netloc}"


class DemoHandler(BaseHTTPRequestHandler):
    server_version = "siths-chat-demo"

    def __init__(self, *args, bot_url: str, card_agent_url: str | None = None,
                 token_url: str | None = None, **kwargs) -> None:
        self.bot_url = bot_url
        self.card_agent_url = card_agent_url
        self.token_url = token_url
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        path = urlsplit(self.path).path
        if path in PAGES:
            nonce = secrets.token_urlsafe(16)
            page = PAGES[path].read_text(encoding="utf-8")
            # JSON string, with "<" escaped so no value can close the script element.
            bot_url = json.dumps(self.bot_url).replace("<", "\\u003c")
            agent_url = json.dumps(self.card_agent_url).replace("<", "\\u003c")
            page = page.replace("__BOT_URL__", bot_url).replace("__NONCE__", nonce)
            token_url = json.dumps(self.token_url).replace("<", "\\u003c")
            page = page.replace("__CARD_AGENT_URL__", agent_url)
            page = page.replace("__TOKEN_URL__", token_url)
            origins = " ".join(
                "{0.scheme}://{0.netloc}".format(urlsplit(url))
                for url in (self.bot_url, self.card_agent_url, self.token_url)
                if url
            )
            if self.bot_url:
                # The socket.io websocket: Chromium does not let http(s) sources cover ws(s).
                origins += " " + websocket_origin(self.bot_url)
            ancestors = "'none'"
            if path == "/teams-tab":
                ancestors = TEAMS_FRAME_ANCESTORS
                origins += " " + TEAMS_JS_CONNECT
            csp = (
                f"default-src 'self'; script-src 'self' 'nonce-{nonce}'; "
                f"connect-src 'self' {origins}; img-src 'self' https: data:; "
                f"style-src 'self' 'unsafe-inline'; frame-ancestors {ancestors}"
            )
            self.reply(page.encode(), "text/html; charset=utf-8", {"Content-Security-Policy": csp})
        elif path == "/favicon.ico":
            self.send_response(HTTPStatus.NO_CONTENT)
            self.end_headers()
        elif path in FILES and FILES[path][0].is_file():
            file, ctype = FILES[path]
            self.reply(file.read_bytes(), ctype, {"Cache-Control": "no-cache"})
        else:
            self.send_error(HTTPStatus.NOT_FOUND, "Sidan finns inte")

    def reply(self, body: bytes, ctype: str, headers: dict) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        pass


def make_server(
    host: str, port: int, bot_url: str, card_agent_url: str | None = None,
    token_url: str | None = None,
) -> ThreadingHTTPServer:
    """``card_agent_url``: the local card agent, for the card relay (a central bot);
    ``token_url``: where the Teams tab exchanges its SSO token for the bot's token."""
    if not (HERE / "dist" / "siths-chat.js").is_file():
        raise SystemExit("widget/dist/siths-chat.js is missing: run `make widget`")
    handler = partial(DemoHandler, bot_url=bot_url, card_agent_url=card_agent_url,
                      token_url=token_url)
    return ThreadingHTTPServer((host, port), handler)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--bot-url", default="http://127.0.0.1:5005")
    parser.add_argument("--card-agent-url", default=None,
                        help="the local card agent, when the bot relays card requests")
    args = parser.parse_args()
    server = make_server(args.host, args.port, args.bot_url, args.card_agent_url)
    print(f"Demo page with the chat widget: http://{args.host}:{args.port}/", flush=True)
    print(f"The Teams card tab, as a page: http://{args.host}:{args.port}/teams-tab", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
