"""The card from the widget when the bot runs centrally (CARD_AGENT_ACCESS=relay):
the action asks the widget, the widget asks the local card agent (the page's
origin on the agent's allowlist, browser relay on), and the bot continues with
the answer. Real bot, real agent on an emulated card, Debian's Chromium."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Iterator

import httpx
import pytest
from playwright.sync_api import expect

from bot.local_stack import REPO, free_port, wait_for
from cardagent.devtools.demo_card import make_demo_card, stop_demo
from cardagent.devtools.emulator import VPCD_PORTS
from tests.bot.responses import joined, rendered
from tests.bot.test_card_conversations import demo_services_ports_free
from tests.widget.conftest import build_widget, serve_module
from tests.widget.stack import start_bot
from tests.widget.test_widget import INPUT, answer_parts, open_chat


@pytest.fixture(scope="module")
def relay_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    build_widget()
    demo_services_ports_free()
    data_dir = tmp_path_factory.mktemp("relay-card")
    page_port, agent_port = free_port(), free_port()
    origin = f"http://127.0.0.1:{page_port}"
    agent_url = f"http://127.0.0.1:{agent_port}"
    make_demo_card("old", data_dir, port=VPCD_PORTS[1])
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARDAGENT_")}
    env.update(CARDAGENT_DATA_DIR=str(data_dir), CARDAGENT_PORT=str(agent_port),
               CARDAGENT_ALLOWED_ORIGINS=origin, CARDAGENT_BROWSER_RELAY="1")
    log = data_dir / "agent.log"
    agent = subprocess.Popen([sys.executable, "-m", "cardagent"], cwd=REPO, env=env,
                             stdout=log.open("w"), stderr=subprocess.STDOUT)
    try:
        wait_for(f"{agent_url}/openapi.json", agent, 30, log)
        # A central bot: its action server cannot reach the agent, only the widget can.
        central = {"CARD_AGENT_ACCESS": "relay", "CARDAGENT_URL": f"http://127.0.0.1:{free_port()}"}
        with start_bot(tmp_path_factory.mktemp("relay-bot"), cors=[origin], env=central) as bot:
            server = serve_module().make_server("127.0.0.1", page_port, bot.url, agent_url)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            try:
                yield {"page_url": f"{origin}/", "bot": bot, "agent_log": log}
            finally:
                server.shutdown()
                server.server_close()
    finally:
        agent.terminate()
        agent.wait(timeout=20)
        stop_demo(data_dir, keep_pcscd=False)


def test_widget_reads_the_card_for_a_central_bot(relay_demo, page, output_dir):
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    open_chat(page, relay_demo["page_url"])
    page.get_by_role("textbox", name=INPUT).fill("Kan du kontrollera mitt SITHS-kort?")
    page.keyboard.press("Enter")
    # The user sees what is being checked, then the bot's explanation of the state.
    expect(page.get_by_text("Jag läser ditt kort …")).to_be_visible(timeout=30_000)
    expected = answer_parts("utter_card_not_upgraded")
    expect(page.locator(".sc-bot").last).to_contain_text(expected[-1][:40], timeout=30_000)
    assert not [line for line in console if "did not answer" in line]
    expect(page.get_by_role("button", name="Uppgradera nu")).to_be_visible()
    page.screenshot(path=str(output_dir / "card-relay.png"))
    # The agent was asked by the browser, without a bearer token, from the page's origin.
    assert "GET /v1/card/state" in relay_demo["agent_log"].read_text()
    assert page.errors == []


def test_a_central_bot_tells_rest_users_it_cannot_see_their_card(relay_demo):
    reply = httpx.post(
        f"{relay_demo['bot'].url}/webhooks/rest/webhook",
        json={"sender": "rest-user", "message": "Kan du kontrollera mitt SITHS-kort?"},
        timeout=30,
    ).json()
    assert joined(reply) == rendered("utter_card_not_reachable_here")


def test_relay_payloads_reach_only_the_relay_routes(relay_demo, page):
    # A compromised or buggy bot cannot make the widget call other agent routes.
    source = (Path(REPO) / "widget" / "src" / "cardRelay.js").read_text()
    assert "/v1/readers" not in source and "/v1/agent" not in source
