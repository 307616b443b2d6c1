"""A standard Rasa chat client that nobody here wrote, rasa-webchat 1.0.1 from npm, holds
a conversation with the bot in Chromium, and talks to it over a websocket (it connects
with socket.io-client 3's default: long-polling, then the upgrade)."""

from __future__ import annotations

import json
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.bot.responses import rendered
from tests.support.rasa_webchat import bundle
from tests.widget.conftest import serving

pytestmark = pytest.mark.stack

PAGE = """<!doctype html>
<html lang="sv"><head><meta charset="utf-8"><title>rasa-webchat</title></head>
<body><div id="webchat"></div>
<script src="/rasa-webchat.js"></script>
<script>
  WebChat.default({
    selector: "#webchat",
    initPayload: "/greet",
    socketUrl: %s,
    socketPath: "/socket.io/",
    title: "SITHS-hjälpen",
    inputTextFieldHint: "Skriv din fråga",
    params: {storage: "session"},
    embedded: true
  }, null);
</script></body></html>
"""


@contextmanager
def webchat_page(port: int, bot_url: str) -> Iterator[str]:
    """An intranet page with rasa-webchat on 127.0.0.1:``port`` (an origin the bot
    allows); yields its URL."""
    files = {
        "/": (PAGE % json.dumps(bot_url)).encode(),
        "/rasa-webchat.js": bundle().read_bytes(),
    }

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            body = files.get(self.path)
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/javascript" if self.path.endswith(".js")
                             else "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args) -> None:
            pass

    with serving(ThreadingHTTPServer(("127.0.0.1", port), Handler)) as url:
        yield url


def test_rasa_webchat_gets_an_answer_over_a_websocket(demo, page):
    sockets = []
    page.on("websocket", lambda ws: sockets.append(ws))
    with webchat_page(demo.other_page_port, demo.bot.url) as url:
        page.goto(url)
        converse(page, sockets)
    assert page.errors == []


def converse(page: Page, sockets: list) -> None:
    greeting = rendered("utter_greet").split("\n\n")[0]
    expect(page.locator(".rw-response").first).to_contain_text(greeting[:40], timeout=30_000)

    received: list = []
    assert len(sockets) == 1
    sockets[0].on("framereceived", lambda payload: received.append(payload))
    page.get_by_placeholder("Skriv din fråga").fill("Vad kostar en ny PUK-kod?")
    page.keyboard.press("Enter")
    for paragraph in rendered("utter_faq_puk_kostnad").split("\n\n"):
        expect(page.locator(".rw-response", has_text=paragraph[:40])).to_be_visible(
            timeout=30_000)
    assert any("bot_uttered" in str(p) and "PUK-kod kostar" in str(p) for p in received)
