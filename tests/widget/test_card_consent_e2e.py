"""Issue 10, "Done when", the way a person does it: in headless Chromium, on the demo
intranet page, in the chat widget, in direct mode (the action server calls the card agent).

1. The person asks the chat to upgrade the demo card `old`, clicks the chat's link to the
   card program's own PIN page (a new tab), types the two codes, clicks "Uppgradera kortet",
   waits for "klar", goes back to the chat and asks whether it is done.
2. The person asks for a new PUK code; the chat only proposes, the order receiver gets
   nothing until the person clicks "Beställ" on the card program's own order page (which
   states the cost); then exactly one order, however often the link is clicked again or the
   page reloaded.

Real stack: Rasa + action server (the trained model), the card agent as a process on the
product's default port 8765 (the widget links only to its configured agent origin), an
emulated card (pcscd + vpcd + SoftHSM2), the EST test CA and the demo order receiver - the
stack of tests/bot/test_card_conversations.py - and the demo page of widget/serve.py.
The browser only clicks and types: no header set by hand, no request posted by the test.
Screenshots go to var/test-output/widget/.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass
from typing import Iterator

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from bot.site_config import load_site_config
from tests.bot.responses import domain
from tests.bot.test_card_conversations import wait_for_orders
from tests.support.card_stack import DEFAULT_AGENT_PORT as AGENT_PORT
from tests.support.card_stack import DEMO_PINS, CardWorld, card_world
from tests.support.local_stack import free_port
from tests.widget.conftest import build_widget, serve_demo
from tests.widget.test_widget import INPUT, answer_parts, open_chat

pytestmark = pytest.mark.stack

PROGRAM = "Kortprogrammet på den här datorn"
AGENT_ORIGIN = f"http://127.0.0.1:{AGENT_PORT}"
PIN_LINK = "Öppna sidan för koderna"
ORDER_LINK = "Öppna beställningssidan"


@dataclass
class ChatStack:
    world: CardWorld
    page_url: str


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChatStack]:
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", AGENT_PORT)) == 0:
            pytest.fail(f"port {AGENT_PORT} is in use (a running card agent?): stop it first")
    build_widget()
    port = free_port()
    with card_world(
        tmp_path_factory.mktemp("e2e"), agent_port=AGENT_PORT, cors=[f"http://127.0.0.1:{port}"]
    ) as world:
        with serve_demo(port, world.bot.url) as page_url:
            yield ChatStack(world, page_url)


@pytest.fixture
def context(browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 800}, locale="sv-SE")
    yield ctx
    ctx.close()


def new_chat_tab(context: BrowserContext) -> Page:
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    return page


def card_state(world: CardWorld) -> str:
    """What the agent's API says about the card (the test's own check, not the person's)."""
    return world.agent.card_state()


def insert(world: CardWorld, card: str, state: str) -> None:
    """Put the demo card in the reader and wait (as a person would) until the agent has read
    it: the emulator and pcscd take a moment to show the new card."""
    world.insert(card)
    world.agent.wait_for_state(state)


def button_title(response: str, payload: str) -> str:
    """The title of the response's button that answers with `payload` (as domain.yml says)."""
    buttons = domain().responses[response][0]["buttons"]
    return next(b["title"] for b in buttons if b["payload"] == payload)


def say(chat: Page, text: str) -> None:
    chat.get_by_role("textbox", name=INPUT).fill(text)
    chat.keyboard.press("Enter")


def bot_says(chat: Page, response: str, timeout: float = 30_000) -> None:
    """Wait until the last bot bubble is the last part of `response`."""
    expect(chat.locator(".sc-bot").last).to_contain_text(
        answer_parts(response)[-1][:40], timeout=timeout
    )


def open_agent_link(chat: Page, context: BrowserContext, name: str) -> Page:
    """Click the chat's link to the agent's page; it opens in a new tab."""
    link = chat.locator("a.sc-agent-link", has_text=name).last
    expect(link).to_be_visible()
    assert link.get_attribute("href").startswith(AGENT_ORIGIN + "/")
    with context.expect_page() as new_tab:
        link.click()
    tab = new_tab.value
    tab.wait_for_load_state()
    return tab


def assert_names_itself(tab: Page) -> None:
    """The agent's page says what it is and for which region (site.yml's region_name)."""
    assert tab.url.startswith(AGENT_ORIGIN + "/")
    header = tab.inner_text("header")
    assert PROGRAM in header, header
    region = load_site_config().region_name
    assert region and region in header, header


def test_person_upgrades_the_old_card_from_the_chat_link_to_done(stack, context, output_dir):
    world = stack.world
    insert(world, "old", "not_upgraded")

    chat = new_chat_tab(context)
    open_chat(chat, stack.page_url)
    say(chat, "Uppgradera mitt kort nu")
    bot_says(chat, "utter_ask_upgrade_card_is_ordinary")
    ordinary = button_title("utter_ask_upgrade_card_is_ordinary", "/affirm")
    chat.get_by_role("button", name=ordinary).click()
    bot_says(chat, "utter_ask_upgrade_has_codes")
    chat.get_by_role("button", name=button_title("utter_ask_upgrade_has_codes", "/affirm")).click()
    bot_says(chat, "utter_upgrade_open_pin_page")
    chat.screenshot(path=str(output_dir / "e2e-upgrade-chat-link.png"))

    pin_page = open_agent_link(chat, context, PIN_LINK)
    expect(pin_page.locator("#pin_legitimering")).to_be_visible()
    assert_names_itself(pin_page)
    assert "?t=" not in pin_page.url  # the one-time token is out of the address bar
    pin_page.locator("input[name='pin_legitimering']").fill(DEMO_PINS["pin_legitimering"])
    pin_page.locator("input[name='pin_underskrift']").fill(DEMO_PINS["pin_underskrift"])
    pin_page.screenshot(path=str(output_dir / "e2e-agent-pin-page.png"), full_page=True)
    pin_page.get_by_role("button", name="Uppgradera kortet").click()
    expect(pin_page.locator("h1")).to_have_text("Uppgraderingen är klar", timeout=120_000)
    assert "klar" in pin_page.inner_text("main").lower()
    assert "error" not in pin_page.inner_text("body")  # no raw JSON error
    assert_names_itself(pin_page)
    pin_page.screenshot(path=str(output_dir / "e2e-agent-pin-done.png"), full_page=True)

    chat.bring_to_front()
    say(chat, "Är det klart?")
    bot_says(chat, "utter_upgrade_done")
    first = answer_parts("utter_upgrade_done")[0]
    expect(chat.locator(".sc-bot", has_text=first[:40])).to_have_count(1)
    say(chat, "Är det klart?")  # asked again: yes, done
    bot_says(chat, "utter_upgrade_already_done")
    chat.screenshot(path=str(output_dir / "e2e-upgrade-chat-done.png"))
    assert card_state(world) == "upgraded"
    # the codes went to the agent's page only: not into the chat
    log = chat.locator(".sc-log").inner_text()
    assert DEMO_PINS["pin_legitimering"] not in log and DEMO_PINS["pin_underskrift"] not in log
    assert chat.errors == []


def test_person_orders_a_puk_by_clicking_bestall_on_the_agents_page(stack, context, output_dir):
    world = stack.world
    insert(world, "old", "not_upgraded")  # a fresh demo card `old`: no order for it yet
    assert world.orders_received() == 0

    chat = new_chat_tab(context)
    open_chat(chat, stack.page_url)
    say(chat, "Jag vill beställa en ny PUK-kod")
    bot_says(chat, "utter_ask_puk_envelope_searched")
    searched = button_title("utter_ask_puk_envelope_searched", "/affirm")
    chat.get_by_role("button", name=searched).click()
    expect(chat.locator("a.sc-agent-link", has_text=ORDER_LINK)).to_be_visible(timeout=30_000)
    chat.screenshot(path=str(output_dir / "e2e-puk-chat-link.png"))
    # the chat only proposed: nothing has reached the order system
    assert wait_for_orders(world, 1, timeout=3) == 0

    order_page = open_agent_link(chat, context, ORDER_LINK)
    expect(order_page.locator("h1")).to_have_text("Beställ en ny PUK-kod")
    assert_names_itself(order_page)
    assert "?t=" not in order_page.url
    cost = order_page.inner_text("#cost")
    assert "ca 200 kr" in cost and "verksamhet" in cost, cost
    order_page.screenshot(path=str(output_dir / "e2e-agent-order-page.png"), full_page=True)
    assert wait_for_orders(world, 1, timeout=2) == 0  # opening the page orders nothing
    order_page.get_by_role("button", name="Beställ", exact=True).click()
    # placed: "lagd" (queued) or already "skickad" (delivered) by the time the page shows
    expect(order_page.locator("h1")).to_have_text(
        re.compile("Beställningen är (lagd|skickad)"), timeout=30_000
    )
    reference = order_page.inner_text("#reference")
    assert reference.startswith("PUK-"), reference
    order_page.screenshot(path=str(output_dir / "e2e-agent-order-done.png"), full_page=True)
    assert wait_for_orders(world, 1) == 1

    # Back in the chat: the chat knows the order is placed, with its reference.
    chat.bring_to_front()
    say(chat, "Är beställningen klar?")
    placed = chat.locator(".sc-bot", has_text=reference)
    expect(placed).to_have_count(1, timeout=30_000)
    assert re.search(r"är (lagd|skickad)", placed.inner_text()), placed.inner_text()
    chat.screenshot(path=str(output_dir / "e2e-puk-chat-done.png"))

    # The chat's link clicked again, and the page reloaded: still exactly one order.
    again = open_agent_link(chat, context, ORDER_LINK)
    expect(again.locator("h1")).to_have_text(re.compile("Beställningen är (lagd|skickad)"))
    assert again.get_by_role("button", name="Beställ", exact=True).count() == 0
    again.reload()
    order_page.reload()
    expect(order_page.locator("h1")).to_have_text(re.compile("Beställningen är (lagd|skickad)"))
    assert chat.errors == []
    assert wait_for_orders(world, 2, timeout=5) == 1
