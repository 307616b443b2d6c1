"""The Teams app's card tab (widget/teams-tab.html, widget/src/teamsTab.js) in Chromium,
inside a local stand-in for the Teams web client that answers @microsoft/teams-js
(tests/support/teams_host.py): the tab follows Teams' theme, tells Teams it is up, and
checks a demo card through the card relay for the central bot."""

from __future__ import annotations

import json
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import jwt
import pytest
from playwright.sync_api import Frame, expect

from tests.support.card_stack import orders_received
from tests.support.local_stack import free_port
from tests.support.teams_host import host_calls, open_in_teams, set_theme, wait_for_host_call
from tests.widget.conftest import build_widget, serve_module, serving
from tests.widget.stack import start_bot
from tests.widget.test_card_relay import the_order_page_opens_only_on_click
from tests.widget.test_widget import CONTRAST_JS, INPUT, answer_parts

pytestmark = pytest.mark.stack

ROOT_CLASS = "() => SithsChat.instance.root.className"


def tab_url(relay_demo: dict) -> str:
    return relay_demo["page_url"] + "teams-tab"


def chat(frame: Frame):  # noqa: ANN201 - a Playwright Locator
    return frame.get_by_role("main", name="SITHS-hjälpen")


def test_the_tab_checks_a_demo_card_and_shows_its_state(relay_demo, page, output_dir):
    frame = open_in_teams(page, tab_url(relay_demo), theme="default")
    expect(chat(frame)).to_be_visible(timeout=30_000)
    wait_for_host_call(page, "appInitialization.success")
    # The chat fills the tab: no launcher and no close button, only the conversation.
    expect(frame.get_by_role("button", name="Frågor om SITHS-kortet?")).to_have_count(0)
    expect(frame.get_by_role("button", name="Stäng chatten")).to_have_count(0)
    expect(frame.locator(".sc-bot").first).to_be_visible(timeout=30_000)

    frame.get_by_role("textbox", name=INPUT).fill("Kan du kontrollera mitt SITHS-kort?")
    frame.get_by_role("textbox", name=INPUT).press("Enter")
    expect(frame.get_by_text("Jag läser ditt kort …")).to_be_visible(timeout=30_000)
    expected = answer_parts("utter_card_not_upgraded")
    expect(frame.locator(".sc-bot").last).to_contain_text(expected[-1][:40], timeout=30_000)
    expect(frame.get_by_role("button", name="Uppgradera kortet")).to_be_visible()
    page.screenshot(path=str(output_dir / "teams-tab.png"))
    # The browser asked the card agent on this computer, not the bot's server.
    assert "GET /v1/card/state" in relay_demo["agent_log"].read_text()
    assert page.errors == []


def test_in_the_tab_the_chat_only_proposes_and_the_agents_page_orders(relay_demo, page):
    """Consent as in the intranet widget: the PUK order is placed on the card agent's own
    page, opened by the person's click; nothing is ordered from the chat in Teams."""
    before = orders_received(relay_demo["data_dir"])
    frame = open_in_teams(page, tab_url(relay_demo))
    expect(frame.locator(".sc-bot").first).to_be_visible(timeout=30_000)
    frame.get_by_role("textbox", name=INPUT).fill("jag vill beställa en ny PUK-kod")
    frame.get_by_role("textbox", name=INPUT).press("Enter")
    frame.get_by_role("button", name="Ja, jag har letat").click(timeout=60_000)
    link = frame.get_by_role("link", name="Öppna beställningssidan")
    expect(link).to_be_visible(timeout=60_000)
    the_order_page_opens_only_on_click(page, link, relay_demo, before)


def test_the_tab_follows_teams_theme_with_readable_colours(relay_demo, page, output_dir):
    frame = open_in_teams(page, tab_url(relay_demo), theme="dark")
    expect(chat(frame)).to_be_visible(timeout=30_000)
    assert "sc-theme-dark" in frame.evaluate(ROOT_CLASS)
    expect(frame.locator(".sc-bot").first).to_be_visible(timeout=30_000)
    frame.get_by_role("textbox", name=INPUT).fill("Vad gör jag om jag inte har kvar mina koder?")
    frame.get_by_role("textbox", name=INPUT).press("Enter")
    expect(frame.locator(".sc-bot a").first).to_be_visible(timeout=30_000)
    for theme in ("dark", "contrast", "default"):
        set_theme(page, theme)
        frame.wait_for_function(f"() => SithsChat.instance.root.classList"
                                f".contains('sc-theme-{theme}')", timeout=10_000)
        ratios = frame.evaluate(CONTRAST_JS)
        assert None not in ratios.values(), (theme, ratios)
        assert all(r >= 4.5 for r in ratios.values()), (theme, ratios)
        page.screenshot(path=str(output_dir / f"teams-tab-{theme}.png"))
    assert host_calls(page)[:2] == ["initialize", "getContext"]


def test_outside_teams_the_tab_is_the_chat_on_a_page(relay_demo, page):
    page.goto(tab_url(relay_demo))
    expect(page.get_by_role("main", name="SITHS-hjälpen")).to_be_visible(timeout=30_000)
    expect(page.locator(".sc-bot").first).to_be_visible(timeout=30_000)
    assert "sc-theme-default" in page.evaluate(ROOT_CLASS)
    assert page.errors == []


# --- a central bot with sign-in (BOT_JWT_KEY): the tab signs in with Teams SSO ---

JWT_KEY = "intranet-test-signing-key-" + uuid.uuid4().hex
SSO_TOKEN = "teams-sso-" + uuid.uuid4().hex  # what the stand-in for Teams hands the tab
USER = "anna.andersson@region.example"


class TokenExchange:
    """A stand-in for the intranet's token exchange (the region's, not ours): it takes the
    Teams SSO token as Bearer and answers the bot's token for that user. The real one
    verifies Entra ID's signature; this one knows the one token the stand-in Teams issued."""

    def __init__(self, port: int, page_origin: str) -> None:
        self.exchanged: list[str] = []
        exchange = self

        class Handler(BaseHTTPRequestHandler):
            def cors(self) -> None:
                self.send_header("Access-Control-Allow-Origin", page_origin)
                self.send_header("Access-Control-Allow-Headers", "Authorization")
                self.send_header("Access-Control-Allow-Methods", "POST")

            def do_OPTIONS(self) -> None:  # noqa: N802 (http.server's naming)
                self.send_response(204)
                self.cors()
                self.end_headers()

            def do_POST(self) -> None:  # noqa: N802
                ok = self.headers.get("Authorization") == f"Bearer {SSO_TOKEN}"
                body = json.dumps({"token": jwt.encode(
                    {"sub": USER, "exp": int(time.time()) + 600}, JWT_KEY, algorithm="HS256")}
                    if ok else {"error": "unauthorized"}).encode()
                exchange.exchanged.append("ok" if ok else "refused")
                self.send_response(200 if ok else 401)
                self.cors()
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{port}/token"


@pytest.fixture(scope="module")
def signed_in_tab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    build_widget()
    page_port = free_port()
    origin = f"http://127.0.0.1:{page_port}"
    exchange = TokenExchange(free_port(), origin)
    central = {"BOT_JWT_KEY": JWT_KEY, "CARD_AGENT_ACCESS": "relay"}
    with start_bot(tmp_path_factory.mktemp("tab-jwt"), cors=[origin], env=central) as bot:
        pages = serve_module().make_server("127.0.0.1", page_port, bot.url, None, exchange.url)
        with serving(exchange.server), serving(pages):
            yield {"tab_url": f"{origin}/teams-tab", "bot": bot, "exchange": exchange}


def test_on_a_bot_with_sign_in_the_tab_signs_in_with_teams_sso(signed_in_tab, page):
    frame = open_in_teams(page, signed_in_tab["tab_url"], sso_token=SSO_TOKEN)
    expect(frame.locator(".sc-bot").first).to_be_visible(timeout=30_000)
    frame.get_by_role("textbox", name=INPUT).fill("Vad kostar en ny PUK-kod?")
    frame.get_by_role("textbox", name=INPUT).press("Enter")
    expected = answer_parts("utter_faq_puk_kostnad")
    expect(frame.locator(".sc-bot", has_text=expected[0][:40])).to_be_visible(timeout=30_000)
    assert "authentication.getAuthToken" in host_calls(page)
    assert signed_in_tab["exchange"].exchanged[0] == "ok"
    assert page.errors == []


def test_without_teams_sso_the_tab_gets_no_conversation(signed_in_tab, page):
    frame = open_in_teams(page, signed_in_tab["tab_url"], sso_token=None)
    expect(frame.get_by_role("status")).to_contain_text("Kan inte nå chatten", timeout=30_000)
    expect(frame.locator(".sc-bot")).to_have_count(0)
