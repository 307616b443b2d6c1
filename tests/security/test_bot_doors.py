"""The bot's own doors on a workstation, attacked (issue 10, point 3).

The real stack: trained Rasa model + action server (tests.support.local_stack), the
widget's origin allowlisted, and a recording stand-in for the card agent so
that any card request the action server makes is seen. The attacks:

* a web page on another local port, in Chromium, makes no-cors ``text/plain``
  POSTs to Rasa's REST webhook (``/order_puk``, ``/affirm``, ``/affirm``) and to
  the action server: nothing may be stored, nothing may reach the agent;
* a local program calls REST with ``text/plain`` or a foreign ``Origin``;
* anyone calls the action server without Rasa's shared token (or with it but
  from a browser page);
* DNS rebinding: requests naming ``Host: evil.example``;
* the API token and the action server token must not be on any command line.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Iterator, List, Tuple

import httpx
import pytest
import socketio
import websockets

from tests.support.local_stack import BotServer, bot_stack, free_port
from tests.support.site import Site

pytestmark = pytest.mark.stack


class _Server(ThreadingHTTPServer):
    daemon_threads = True


def _serve(handler: type) -> Tuple[_Server, str]:
    server = _Server(("127.0.0.1", free_port()), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


class RecordingAgent:
    """Stands in for the card agent: records every request, answers 503."""

    def __init__(self) -> None:
        self.requests: List[str] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                recorder.requests.append(f"{self.command} {self.path.split('?')[0]}")
                self.send_response(503)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"error": "unavailable"}')

            do_GET = do_POST = _any

            def log_message(self, *args: object) -> None:
                pass

        self.server, self.url = _serve(Handler)


@dataclass
class Doors:
    bot: BotServer
    action_url: str
    widget_origin: str
    agent: RecordingAgent


@pytest.fixture(scope="module")
def doors(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Doors]:
    agent = RecordingAgent()
    action_port = free_port()
    widget_origin = f"http://127.0.0.1:{free_port()}"
    env = {"CARDAGENT_URL": agent.url, "CARDAGENT_TOKEN": "agent-token-" + uuid.uuid4().hex}
    with bot_stack(tmp_path_factory.mktemp("doors"), cors=[widget_origin], extra_env=env,
                   action_port=action_port) as bot:
        # A legitimate call first: the store exists and the tests can see writes.
        assert bot.chat("control-" + uuid.uuid4().hex[:8], "Vad kostar en ny PUK-kod?")
        yield Doors(bot, f"http://127.0.0.1:{action_port}", widget_origin, agent)
    agent.server.shutdown()


@pytest.fixture
def attacker_page() -> Iterator[Callable[[str], str]]:
    """Serves an HTML page from its own local port (another origin); returns its URL."""
    sites: List[Site] = []

    def serve(html: str) -> str:
        site = Site()
        site.pages["/"] = html
        sites.append(site)
        return site.url("/")

    yield serve
    for site in sites:
        site.close()


def run_async(coro):  # noqa: ANN001, ANN201 - any coroutine
    """asyncio.run in a thread of its own (Playwright keeps a loop in this one)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def stored_events(bot: BotServer, sender: str) -> list:
    with sqlite3.connect(bot.tracker_db) as conn:
        return conn.execute("SELECT data FROM events WHERE sender_id = ?", (sender,)).fetchall()


def no_cors_posts(url: str, bodies: List[dict]) -> str:
    """An attacker's page: one no-cors text/plain POST per body, one after the
    other (no preflight is needed for these, and the page never reads a reply)."""
    return f"""<!doctype html><title>Gratis kaffe</title><script>
(async () => {{
  for (const body of {json.dumps(bodies)}) {{
    try {{
      await fetch({json.dumps(url)}, {{method: "POST", mode: "no-cors",
        headers: {{"Content-Type": "text/plain"}}, body: JSON.stringify(body)}});
    }} catch (e) {{}}
  }}
  window.done = true;
}})();
</script>"""


def visit(browser, url: str) -> None:
    page = browser.new_page()
    try:
        page.goto(url)
        page.wait_for_function("window.done === true", timeout=120_000)
    finally:
        page.close()


# --- a drive-by page in Chromium ---

def test_a_page_on_another_port_cannot_order_a_puk_through_rest(doors, browser, attacker_page):
    sender = "driveby-" + uuid.uuid4().hex[:8]
    before = list(doors.agent.requests)
    bodies = [{"sender": sender, "message": m} for m in ("/order_puk", "/affirm", "/affirm")]
    visit(browser, attacker_page(no_cors_posts(f"{doors.bot.url}/webhooks/rest/webhook", bodies)))
    assert stored_events(doors.bot, sender) == [], "Rasa took the page's messages"
    assert doors.agent.requests == before, "the card agent was called"


def test_a_page_on_another_port_cannot_call_the_action_server(doors, browser, attacker_page):
    before = list(doors.agent.requests)
    call = action_call("action_check_card")
    visit(browser, attacker_page(no_cors_posts(f"{doors.action_url}/webhook", [call])))
    assert doors.agent.requests == before, "the action server called the card agent"


# --- local programs ---

def test_rest_takes_json_only_and_not_from_foreign_origins(doors):
    url = f"{doors.bot.url}/webhooks/rest/webhook"
    sender = "plain-" + uuid.uuid4().hex[:8]
    body = json.dumps({"sender": sender, "message": "/order_puk"})
    assert httpx.post(url, content=body, headers={"Content-Type": "text/plain"}).status_code == 415
    assert httpx.post(url, content=body).status_code == 415  # no Content-Type at all
    for origin in ("http://127.0.0.1:1", "null", "https://evil.example"):
        reply = httpx.post(url, json={"sender": sender, "message": "/order_puk"},
                           headers={"Origin": origin})
        assert reply.status_code == 403 and "Traceback" not in reply.text
    assert stored_events(doors.bot, sender) == []
    # The widget's own origin is let through (and gets CORS headers for it).
    ok = httpx.post(url, json={"sender": sender, "message": "Vad kostar en ny PUK-kod?"},
                    headers={"Origin": doors.widget_origin, "Sec-Fetch-Site": "same-site"})
    assert ok.status_code == 200 and ok.json()
    assert ok.headers.get("access-control-allow-origin") == doors.widget_origin


@pytest.mark.parametrize("transports", [["polling"], ["websocket"]])
def test_socketio_refuses_foreign_origins_over_either_transport(doors, transports):
    """A websocket is not covered by CORS: a page anywhere could open one to the bot
    (cross-site websocket hijacking). The channel checks Origin on the connection
    itself, so the websocket is refused like long-polling."""

    async def sio_connect(origin: str) -> bool:
        client = socketio.AsyncClient(reconnection=False)
        try:
            await client.connect(doors.bot.url, socketio_path="/socket.io", transports=transports,
                                 headers={"Origin": origin}, wait_timeout=10)
        except socketio.exceptions.ConnectionError:
            return False
        await client.disconnect()
        return True

    for origin in ("http://127.0.0.1:1", "null", "https://evil.example"):
        assert run_async(sio_connect(origin)) is False, origin
    assert run_async(sio_connect(doors.widget_origin)) is True


def test_engineio_refuses_foreign_requests_before_it_opens_a_session(doors):
    """Cross-site websocket hijacking and held sessions: every engine.io request (the
    polling handshake, a websocket handshake and the upgrade of a session) is checked at
    the door; a foreign one gets 403 and no session."""
    base = f"{doors.bot.url}/socket.io/?EIO=4"
    ws_base = base.replace("http", "ws", 1)
    evil = {"Origin": "https://evil.example"}
    assert httpx.get(f"{base}&transport=polling", headers=evil).status_code == 403
    rebound_host = {"Host": "evil.example:" + doors.bot.url.rsplit(":", 1)[1]}
    assert httpx.get(f"{base}&transport=polling", headers=rebound_host).status_code == 403

    async def websocket_status(url: str, headers: dict) -> object:
        try:
            async with websockets.connect(url, extra_headers=headers) as ws:
                return ("open", await asyncio.wait_for(ws.recv(), 5))
        except websockets.InvalidStatusCode as refused:
            return refused.status_code

    assert run_async(websocket_status(f"{ws_base}&transport=websocket", evil)) == 403
    # A session opened from the widget's page cannot be upgraded from another origin.
    opened = httpx.get(f"{base}&transport=polling", headers={"Origin": doors.widget_origin})
    assert opened.status_code == 200
    sid = json.loads(opened.text[1:])["sid"]
    assert run_async(websocket_status(f"{ws_base}&transport=websocket&sid={sid}", evil)) == 403
    # The widget's own origin still gets its websocket.
    status = run_async(websocket_status(f"{ws_base}&transport=websocket",
                                        {"Origin": doors.widget_origin}))
    assert status[0] == "open" and status[1].startswith("0{")


def action_call(name: str, sender: str = "attacker") -> dict:
    from rasa_sdk import __version__

    return {"next_action": name, "sender_id": sender, "version": __version__, "domain": {},
            "tracker": {"sender_id": sender, "slots": {}, "latest_message": {}, "events": []}}


def test_the_action_server_takes_only_rasa(doors):
    url = f"{doors.action_url}/webhook"
    before = list(doors.agent.requests)
    token = getattr(doors.bot, "action_token", "")
    call = action_call("action_check_card")
    assert httpx.post(url, json=call).status_code == 403
    assert httpx.post(url, json=call, params={"token": "wrong"}).status_code == 403
    for headers in ({"Origin": doors.widget_origin}, {"Origin": "null"},
                    {"Sec-Fetch-Site": "same-site"}, {"Sec-Fetch-Site": "cross-site"}):
        assert httpx.post(url, json=call, params={"token": token},
                          headers=headers).status_code == 403
    assert httpx.get(f"{doors.action_url}/actions").status_code == 403
    assert doors.agent.requests == before
    # Rasa's way in works: the token (as Rasa sends it) and nothing from a browser.
    reply = httpx.post(url, json=call, params={"token": token}, timeout=30)
    assert reply.status_code == 200, reply.text
    assert len(doors.agent.requests) > len(before)
    assert not any(token in line for line in (doors.bot.tracker_db.parent / "actions.log")
                   .read_text().splitlines())


def test_custom_actions_still_run_for_rasa(doors):
    """Rasa passes the guard with the token from endpoints.yml: a card question
    reaches the (stand-in) agent through the action server."""
    before = len(doors.agent.requests)
    doors.bot.chat("cardcheck-" + uuid.uuid4().hex[:8], "Är mitt kort uppgraderat?")
    assert len(doors.agent.requests) > before


# --- DNS rebinding ---

def test_dns_rebinding_names_are_refused(doors):
    """What a browser sends after evil.example was rebound to 127.0.0.1: its
    own name as Host, same-origin (so no Origin check applies to a GET)."""
    port = doors.bot.url.rsplit(":", 1)[1]
    sender = "rebind-" + uuid.uuid4().hex[:8]
    rebound = {"Host": f"evil.example:{port}", "Sec-Fetch-Site": "same-origin"}
    reply = httpx.post(f"{doors.bot.url}/webhooks/rest/webhook",
                       json={"sender": sender, "message": "/order_puk"}, headers=rebound)
    assert reply.status_code == 403
    assert stored_events(doors.bot, sender) == []
    assert httpx.get(f"{doors.bot.url}/webhooks/rest/", headers=rebound).status_code == 403

    async def sio_connect() -> bool:
        client = socketio.AsyncClient()
        try:
            await client.connect(doors.bot.url, socketio_path="/socket.io",
                                 transports=["polling"], headers=rebound, wait_timeout=10)
        except socketio.exceptions.ConnectionError:
            return False
        await client.disconnect()
        return True

    assert run_async(sio_connect()) is False

    action_port = doors.action_url.rsplit(":", 1)[1]
    assert httpx.post(f"{doors.action_url}/webhook", json=action_call("action_check_card"),
                      params={"token": getattr(doors.bot, "action_token", "")},
                      headers={"Host": f"evil.example:{action_port}"}).status_code == 403


# --- secrets on command lines ---

def _cmdlines() -> List[Tuple[int, str]]:
    out = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                raw = (proc / "cmdline").read_bytes()
            except OSError:
                continue
            out.append((int(proc.name), raw.replace(b"\0", b" ").decode(errors="replace")))
    return out


def test_no_token_on_any_command_line_and_the_api_needs_it(doors):
    bot = doors.bot
    lines = _cmdlines()
    assert any(pid == bot.pid for pid, _ in lines) and any(pid == bot.action_pid
                                                           for pid, _ in lines)
    for secret in (bot.api_token, getattr(bot, "action_token", "")):
        if not secret:
            continue
        leaked = [pid for pid, line in lines if secret in line]
        assert leaked == [], f"a token is on the command line of {leaked}"
    # The HTTP API works with the token and only with it.
    assert bot.parse("Vad kostar en ny PUK-kod?")["intent"]["name"]
    no_token = httpx.post(f"{bot.url}/model/parse", json={"text": "hej"}, timeout=30)
    assert no_token.status_code == 401
    wrong = httpx.post(f"{bot.url}/model/parse", params={"token": "x" * 32},
                       json={"text": "hej"}, timeout=30)
    assert wrong.status_code in (401, 403)
