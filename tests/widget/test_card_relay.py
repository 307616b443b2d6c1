"""The card from the widget when the bot runs centrally (CARD_AGENT_ACCESS=relay):
the action asks the widget, the widget asks the local card agent (the page's
origin on the agent's allowlist, browser relay on), and the bot continues with
the answer. Real bot, real agent on an emulated card, Debian's Chromium."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from tests.bot.responses import joined, rendered
from tests.support.card_stack import (
    agent_python,
    orders_received,
)
from tests.support.local_stack import REPO
from tests.widget.test_widget import INPUT, answer_parts, open_chat

pytestmark = pytest.mark.stack


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
    expect(page.get_by_role("button", name="Uppgradera kortet")).to_be_visible()
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
    assert joined(reply) == "\n\n".join([rendered("utter_card_not_reachable_here"),
                                         rendered("utter_upgrade_yourself")])


def widget_relay_routes() -> set:
    """(method, path template) pairs the widget relays, read from cardRelay.js."""
    source = (Path(REPO) / "widget" / "src" / "cardRelay.js").read_text()
    block = source.split("export const RELAY_ROUTES = [", 1)[1].split("];", 1)[0]
    pairs = re.findall(r'\["(\w+)", new RegExp\([`"]\^(.+?)\$[`"]\)\]', block)
    assert len(pairs) == block.count("new RegExp")
    return {(method, path.replace("\\/", "/").replace("${ID}", "{id}")) for method, path in pairs}


def agent_relay_routes() -> set:
    """The agent's RELAY_ROUTES, asked of the agent's own environment (not importable
    here)."""
    code = ("import json; from cardagent.security import RELAY_ROUTES as R; "
            "print(json.dumps(sorted(R)))")
    out = subprocess.run([agent_python(), "-c", code], cwd=REPO, check=True, timeout=60,
                         capture_output=True, text=True).stdout
    return {tuple(pair) for pair in json.loads(out)}


def test_the_widget_relays_exactly_the_agents_relay_routes(relay_demo):
    # A compromised or buggy bot cannot make the widget call other agent routes.
    RELAY_ROUTES = agent_relay_routes()  # noqa: N806 - the agent's name
    assert RELAY_ROUTES

    def normal(path: str) -> str:
        return re.sub(r"\{\w+\}", "{id}", path)

    agent_routes = {(m, normal(p)) for m, p in RELAY_ROUTES}
    assert widget_relay_routes() == agent_routes
    openapi = httpx.get(f"{relay_demo['agent_url']}/openapi.json", timeout=10).json()["paths"]
    served = {(m.upper(), normal(p)) for p, ops in openapi.items() for m in ops}
    assert agent_routes <= served


def test_in_relay_mode_the_chat_proposes_and_the_page_opens_on_click(relay_demo, page):
    before = orders_received(relay_demo["data_dir"])
    open_chat(page, relay_demo["page_url"])
    page.get_by_role("textbox", name=INPUT).fill("jag vill beställa en ny PUK-kod")
    page.keyboard.press("Enter")
    yes = page.get_by_role("button", name="Ja, jag har letat")
    yes.click(timeout=60_000)
    link = page.get_by_role("link", name="Öppna beställningssidan")
    expect(link).to_be_visible(timeout=60_000)
    the_order_page_opens_only_on_click(page, link, relay_demo, before)


def the_order_page_opens_only_on_click(page, link, relay_demo: dict, before) -> None:  # noqa: ANN001
    """The chat's link leads to the agent's order page on the agent's origin; nothing
    opens by itself and neither the chat nor opening the page orders anything."""
    assert link.get_attribute("href").startswith(relay_demo["agent_url"] + "/orders/")
    assert len(page.context.pages) == 1
    time.sleep(2)
    assert orders_received(relay_demo["data_dir"]) == before
    with page.context.expect_page() as opened:
        link.click()
    agent_page = opened.value
    agent_page.wait_for_load_state()
    assert agent_page.url.startswith(relay_demo["agent_url"] + "/orders/")
    assert "ca 200 kr" in agent_page.inner_text("body")
    time.sleep(2)
    assert orders_received(relay_demo["data_dir"]) == before
