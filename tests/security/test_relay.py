"""Relay mode, attacked (issue 10): the widget on the intranet page, the card agent
on this computer with browser relay on, Debian's Chromium.

* A forged ``/cardagent_result`` (guessed, missing or replayed request id) with an
  attacker's ``pin_page_url``, sent over the widget's own socket.io connection to
  the real central bot: the bot never shows that page.
* A compromised bot (a socket.io server of our own that speaks Rasa's protocol)
  sends the widget card requests the bot never issued, an order request with a
  cost consent, routes that are not relay routes, and links to pages on this
  computer: the order receiver gets no order, no page is opened, nothing is
  navigated to until the user clicks, and only the agent's own origin is linked.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from typing import Any, Dict, Iterator, List

import pytest
from playwright.sync_api import expect

from tests.support.card_stack import (
    AgentProcess,
    insert_demo_card,
    orders_received,
    stop_demo_card,
)
from tests.support.local_stack import free_port
from tests.widget.conftest import build_widget, serve_module
from tests.widget.stack import start_bot
from tests.widget.test_widget import INPUT, answer_parts, open_chat

pytestmark = pytest.mark.stack

FORGED_ID = "forged" + "A" * 40


class CompromisedBot:
    """A socket.io server that speaks Rasa's socket.io protocol to the widget and,
    on the widget's first message, sends it ``payloads`` as bot messages."""

    def __init__(self, origin: str, payloads: List[Dict[str, Any]]) -> None:
        import socketio
        from aiohttp import web

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.received: List[Dict[str, Any]] = []
        self.sio = socketio.AsyncServer(async_mode="aiohttp", cors_allowed_origins=[origin])
        self.app = web.Application()
        self.sio.attach(self.app)
        self.payloads = payloads
        self.loop = asyncio.new_event_loop()

        @self.sio.on("session_request")
        async def session_request(sid: str, data: Any) -> None:
            session = (data or {}).get("session_id") or "compromised-session"
            await self.sio.emit("session_confirm", session, room=sid)

        @self.sio.on("user_uttered")
        async def user_uttered(sid: str, data: Any) -> None:
            self.received.append(data)
            if len(self.received) == 1:
                for payload in self.payloads:
                    await self.sio.emit("bot_uttered", payload, room=sid)

    def start(self) -> None:
        from aiohttp import web

        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            runner = web.AppRunner(self.app)
            self.loop.run_until_complete(runner.setup())
            self.loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
            ready.set()
            self.loop.run_forever()

        threading.Thread(target=run, daemon=True).start()
        assert ready.wait(10)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)


@pytest.fixture(scope="module")
def relay_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    build_widget()
    data_dir = tmp_path_factory.mktemp("relay-attack-card")
    page_port, evil_page_port = free_port(), free_port()
    origin = f"http://127.0.0.1:{page_port}"
    evil_origin = f"http://127.0.0.1:{evil_page_port}"
    agent = AgentProcess(data_dir)
    agent_url, log = agent.url, agent.log
    servers = []
    try:
        insert_demo_card("old", data_dir)
        # Both intranet pages are allowlisted: the compromised bot's widget is a real
        # widget on an allowed page, as the issue describes.
        agent.start(CARDAGENT_ALLOWED_ORIGINS=f"{origin},{evil_origin}",
                    CARDAGENT_BROWSER_RELAY="1")
        payloads = compromised_payloads(agent_url)
        evil_bot = CompromisedBot(evil_origin, payloads)
        evil_bot.start()
        # The central bot: relay mode; CARDAGENT_URL only names the agent origin
        # whose page links it accepts (in relay mode it never calls it).
        central = {"CARD_AGENT_ACCESS": "relay", "CARDAGENT_URL": agent_url}
        with start_bot(tmp_path_factory.mktemp("relay-attack-bot"), cors=[origin],
                       env=central) as bot:
            for port, bot_url in ((page_port, bot.url), (evil_page_port, evil_bot.url)):
                server = serve_module().make_server("127.0.0.1", port, bot_url, agent_url)
                threading.Thread(target=server.serve_forever, daemon=True).start()
                servers.append(server)
            yield {"page_url": f"{origin}/", "evil_page_url": f"{evil_origin}/", "bot": bot,
                   "agent_url": agent_url, "data_dir": data_dir, "evil_bot": evil_bot,
                   "agent_log": log}
        evil_bot.stop()
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
        agent.stop()
        stop_demo_card(data_dir)


def compromised_payloads(agent_url: str) -> List[Dict[str, Any]]:
    def request(method: str, path: str, body: Any = None, purpose: str = "order_puk") -> dict:
        return {"type": "cardagent_request", "request_id": "evil" + "x" * 40, "purpose": purpose,
                "method": method, "path": path, "body": body, "label": ""}

    other_port = int(agent_url.rsplit(":", 1)[1]) + 1
    return [
        # The attack: an order with the cost "consent" in the body.
        request("POST", "/v1/puk-orders", {"confirm_cost": True}),
        request("POST", "/v1/puk-orders", {"confirm_cost": True, "confirm": True}),
        # Not relay routes.
        request("POST", "/v1/puk-orders/x/confirm", {}),
        request("GET", "/v1/readers"),
        request("POST", "/v1/upgrade/../puk-orders", {"confirm_cost": True}),
        request("DELETE", "/v1/jobs/abc"),
        # Pages on this computer: the agent's origin (a link) and another port (no link).
        {"text": f"[Agentens sida]({agent_url}/orders/evil?t=x) och "
                 f"[Falsk sida](http://127.0.0.1:{other_port}/orders/evil?t=x)"},
        {"attachment": {"type": "file", "payload": {"src": f"http://localhost:{other_port}/pin/x"}}},
    ]


FORGE = """([url, requestId]) => {
    const chat = window.SithsChat.instance;
    chat.socket.emit("user_uttered", {
        message: "/cardagent_result", session_id: chat.state.sessionId,
        metadata: {cardagent_result: {
            request_id: requestId, purpose: "start_upgrade", status: 200,
            body: {job_id: "attacker", status: "waiting_for_pin", created: true,
                   progress: 0, pin_page_url: url}}}});
}"""


def ask(page, text: str, response: str) -> None:
    page.get_by_role("textbox", name=INPUT).fill(text)
    page.keyboard.press("Enter")
    expected = answer_parts(response)
    expect(page.locator(".sc-bot").last).to_contain_text(expected[-1][:40], timeout=60_000)


def assert_not_shown(page, bot) -> None:
    log = page.locator(".sc-log")
    assert "attacker" not in log.inner_html()
    assert "Öppna sidan för koderna" not in log.inner_text()
    assert page.locator("a[href*='attacker']").count() == 0
    # Nor in what Rasa stored of the bot's messages.
    stored = sqlite3.connect(bot.tracker_db).execute(
        "SELECT data FROM events WHERE type_name = 'bot'").fetchall()
    assert "attacker" not in "\n".join(row[0] for row in stored)


def test_a_forged_relay_answer_never_shows_the_attackers_page(relay_world, page):
    agent_url = relay_world["agent_url"]
    attacker_pages = [f"{agent_url}/pin/attacker?t=stolen", "http://evil.example/pin/attacker"]
    open_chat(page, relay_world["page_url"])
    expect(page.locator(".sc-bot").first).to_be_visible(timeout=60_000)  # the greeting
    # Record what the widget sends, to replay its real relay answer later.
    page.evaluate("""() => {
        const socket = window.SithsChat.instance.socket;
        window.__sent = [];
        const emit = socket.emit.bind(socket);
        socket.emit = (event, data, ...rest) => {
            if (event === "user_uttered") window.__sent.push(JSON.parse(JSON.stringify(data)));
            return emit(event, data, ...rest);
        };
    }""")
    # 1. Answers to requests the bot never made: a guessed id, no id.
    for url in attacker_pages:
        for request_id in (FORGED_ID, None):
            page.evaluate(FORGE, [url, request_id])
    # A normal turn after the forged ones: the bot has handled them all by its answer.
    ask(page, "Vad kostar en PUK-kod?", "utter_faq_puk_kostnad")
    time.sleep(1)
    assert_not_shown(page, relay_world["bot"])
    # 2. A real relayed exchange, then its answer replayed with the attacker's page.
    ask(page, "Kan du kontrollera mitt SITHS-kort?", "utter_card_not_upgraded")
    real = [m for m in page.evaluate("window.__sent") if m["message"] == "/cardagent_result"
            and m["metadata"]["cardagent_result"]["purpose"] == "check_card"]
    assert len(real) == 1, "the widget relayed the bot's card request"
    used_id = real[0]["metadata"]["cardagent_result"]["request_id"]
    for url in attacker_pages:
        page.evaluate(FORGE, [url, used_id])
    ask(page, "Vad kostar en PUK-kod?", "utter_faq_puk_kostnad")
    time.sleep(1)
    assert_not_shown(page, relay_world["bot"])


def test_a_compromised_bot_cannot_make_the_widget_order_or_open_pages(relay_world, page):
    data_dir, agent_url = relay_world["data_dir"], relay_world["agent_url"]
    before = orders_received(data_dir)
    log_before = relay_world["agent_log"].read_text()
    open_chat(page, relay_world["evil_page_url"])
    start_url = page.url
    # The links arrive; nothing is opened by itself.
    expect(page.get_by_role("link", name="Agentens sida")).to_be_visible(timeout=30_000)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        assert orders_received(data_dir) == before, "the widget placed an order"
        time.sleep(0.5)
    assert len(page.context.pages) == 1 and page.url == start_url
    # Only the agent's own origin is a link; the other page on this computer is not.
    assert page.get_by_role("link", name="Falsk sida").count() == 0
    assert page.locator("a[href*='localhost']").count() == 0
    # Only relay routes reached the agent, with no body from the bot.
    calls = relay_world["agent_log"].read_text()[len(log_before):]
    for refused in ("/v1/readers", "/confirm", "DELETE", "/../"):
        assert refused not in calls
    # The page opens on the user's click, in a new tab; still no order.
    with page.context.expect_page() as opened:
        page.get_by_role("link", name="Agentens sida").click()
    assert opened.value.url.startswith(f"{agent_url}/orders/evil")
    time.sleep(3)
    assert orders_received(data_dir) == before


def test_a_page_on_another_origin_in_a_bot_message_is_not_linked(relay_world, page):
    # The relay answers the widget sent to the compromised bot name no page off the
    # agent's origin (what the widget passes on is filtered too).
    for message in relay_world["evil_bot"].received:
        result = (message.get("metadata") or {}).get("cardagent_result") or {}
        for key in ("pin_page_url", "confirm_page_url"):
            url = (result.get("body") or {}).get(key)
            assert url is None or url.startswith(relay_world["agent_url"] + "/")
