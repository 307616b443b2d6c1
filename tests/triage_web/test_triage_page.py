"""The triage page in Chromium as an agent uses it: sign in, search what a caller says,
copy the answer and the ticket note, and find a conversation just held in the widget by
the chat reference the widget shows, masked; every lookup is in the audit log."""

from __future__ import annotations

import json
import re

import httpx
import pytest
from playwright.sync_api import Page, expect

from bot.triage import answer, plain_links, response_for
from tests.support.browser import new_page
from tests.support.local_stack import REPO
from tests.widget.test_widget import INPUT, answer_parts, open_chat

pytestmark = pytest.mark.stack

PERSONNUMMER = "19121212-1212"
REFERENCE = re.compile(r"K-[0-9A-Z]{4}-[0-9A-Z]{4}")
# Screenshots are kept here after the run (var/ is not in git).
OUTPUT = REPO / "var" / "test-output" / "triage_web"


def screenshot(page: Page, name: str) -> None:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUTPUT / name), full_page=True)


@pytest.fixture
def agent_page(browser, triage_stack):  # noqa: ANN001, ANN201 - a Playwright Page
    page = new_page(browser, viewport={"width": 1280, "height": 900})
    page.context.grant_permissions(["clipboard-read", "clipboard-write"],
                                   origin=triage_stack.url)
    yield page
    page.context.close()


def sign_in(page: Page, url: str, token: str) -> None:
    page.goto(url + "/")
    expect(page.get_by_role("heading", name="Logga in")).to_be_visible()
    page.get_by_label("Inloggningskod för triagesidan").fill(token)
    page.get_by_role("button", name="Logga in").click()
    expect(page.get_by_label("Vad säger den som ringer?")).to_be_visible()


def clipboard(page: Page) -> str:
    return page.evaluate("navigator.clipboard.readText()")


def test_a_wrong_token_gets_nothing(agent_page, triage_stack):
    page = agent_page
    page.goto(triage_stack.url + "/")
    page.get_by_label("Inloggningskod för triagesidan").fill("fel-kod")
    page.get_by_role("button", name="Logga in").click()
    expect(page.get_by_role("alert")).to_have_text("Fel kod. Försök igen.")
    page.goto(triage_stack.url + "/")
    expect(page.get_by_label("Vad säger den som ringer?")).to_have_count(0)


def test_search_read_out_and_copy(agent_page, triage_stack):
    page = agent_page
    sign_in(page, triage_stack.url, triage_stack.token)
    page.get_by_label("Vad säger den som ringer?").fill("Vad kostar en ny PUK-kod?")
    page.get_by_role("button", name="Sök").click()

    expected = plain_links(answer(response_for("faq_puk_kostnad")).text)
    read_out = page.locator("#answer")
    expect(read_out).to_have_text(expected)
    expect(page.get_by_role("table")).to_contain_text("Vad kostar en ny PUK-kod")

    page.get_by_role("button", name="Kopiera svar").click()
    expect(page.get_by_role("status")).to_have_text("Kopierat.")
    assert clipboard(page) == expected
    screenshot(page, "search.png")

    page.get_by_role("button", name="Kopiera ärendenotering").click()
    note = clipboard(page)
    assert note.startswith("Fråga (maskerad): Vad kostar en ny PUK-kod?\nÄmne: ")
    assert f"Svar som gavs: {expected.splitlines()[0]}" in note
    assert page.errors == []


def test_codes_and_personnummer_never_reach_the_page(agent_page, triage_stack):
    page = agent_page
    sign_in(page, triage_stack.url, triage_stack.token)
    page.get_by_label("Vad säger den som ringer?").fill(
        f"Mitt personnummer är {PERSONNUMMER} och kortet är låst")
    page.get_by_role("button", name="Sök").click()
    expect(page.get_by_text("Koden eller personnumret togs bort")).to_be_visible()
    assert PERSONNUMMER not in page.content()
    assert "121212" not in page.locator("#note").inner_text()


def test_a_widget_conversation_is_found_by_its_reference(agent_page, triage_stack, browser):
    # The employee, in the widget on the intranet page.
    employee = browser.new_context(locale="sv-SE").new_page()
    open_chat(employee, triage_stack.widget_url)
    header = employee.locator(".sc-ref")
    expect(header).to_have_text(REFERENCE, timeout=30_000)
    shown = REFERENCE.search(header.inner_text()).group(0)
    employee.get_by_role("textbox", name=INPUT).fill(
        f"Jag vill prata med en människa, mitt personnummer är {PERSONNUMMER}")
    employee.keyboard.press("Enter")
    told = employee.locator(".sc-bot", has_text="chattreferensen")
    expect(told).to_contain_text(shown, timeout=30_000)
    screenshot(employee, "widget-reference.png")
    employee.context.close()

    # The agent, with the caller reading the reference out (lower case, no dashes).
    page = agent_page
    sign_in(page, triage_stack.url, triage_stack.token)
    page.get_by_label(re.compile("Chattreferens")).fill(shown.lower().replace("-", " "))
    page.get_by_role("button", name="Visa chatten").click()
    expect(page.get_by_role("heading", name=f"Chatt {shown}")).to_be_visible()
    transcript = page.locator(".transcript")
    expect(transcript).to_contain_text("Jag vill prata med en människa")
    expect(transcript).to_contain_text("Tolkat som: Kontakta Servicecenter")
    assert PERSONNUMMER not in page.content()
    expect(page.get_by_text("hänvisades till Servicecenter")).to_be_visible()
    screenshot(page, "conversation.png")

    page.get_by_role("button", name="Kopiera ärendenotering").click()
    note = clipboard(page)
    assert note.startswith(f"Chattreferens: {shown}\nFråga (maskerad): Jag vill prata med")
    assert PERSONNUMMER not in note
    assert "Eskalering: " in note

    audit = triage_stack.audit_log.read_text()
    assert re.search(rf"lookup by \w+ from [\d.]+: {shown} found 1", audit)
    assert page.errors == []


def test_unknown_and_malformed_references(agent_page, triage_stack):
    page = agent_page
    sign_in(page, triage_stack.url, triage_stack.token)
    box = page.get_by_label(re.compile("Chattreferens"))
    box.fill("K-0000-0000")
    page.get_by_role("button", name="Visa chatten").click()
    expect(page.get_by_role("alert")).to_contain_text("Ingen chatt har referensen K-0000-0000")
    page.get_by_label(re.compile("Chattreferens")).fill("hej hopp")
    page.get_by_role("button", name="Visa chatten").click()
    expect(page.get_by_role("alert")).to_contain_text("Det ser inte ut som en chattreferens")
    audit = triage_stack.audit_log.read_text()
    assert "K-0000-0000 not found" in audit
    assert "not a reference" in audit


def test_feedback_given_in_the_widget_is_in_the_report(agent_page, triage_stack, browser):
    employee = browser.new_context(locale="sv-SE").new_page()
    open_chat(employee, triage_stack.widget_url)
    employee.get_by_role("textbox", name=INPUT).fill("Vad kostar en ny PUK-kod?")
    employee.keyboard.press("Enter")
    question = employee.get_by_role("group", name="Var svaret till hjälp?")
    expect(question).to_be_visible(timeout=30_000)
    question.get_by_role("button", name="Ja, svaret hjälpte").click()
    expect(employee.locator(".sc-bot").last).to_have_text(re.compile("Tack för ditt svar!"))
    expect(question.get_by_role("button", name="Nej, svaret hjälpte inte")).to_be_disabled()
    employee.reload()  # the choice is kept: no second answer after a reload
    question = employee.get_by_role("group", name="Var svaret till hjälp?").last
    expect(question.get_by_role("button", name="Ja, svaret hjälpte")).to_have_attribute(
        "aria-pressed", "true")
    expect(question.get_by_role("button", name="Nej, svaret hjälpte inte")).to_be_disabled()
    screenshot(employee, "widget-feedback.png")
    employee.context.close()

    page = agent_page
    sign_in(page, triage_stack.url, triage_stack.token)
    page.get_by_role("link", name="Rapport").click()
    row = page.locator('tr[data-answer="utter_faq_puk_kostnad"]')
    expect(row).to_contain_text("Vad kostar en ny PUK-kod")
    expect(row.locator("td").nth(1)).to_have_text("1")
    expect(row.locator("td").nth(2)).to_have_text("0")


def test_a_reply_while_the_panel_is_closed_shows_a_badge(browser, triage_stack):
    employee = browser.new_context(locale="sv-SE").new_page()
    open_chat(employee, triage_stack.widget_url)
    expect(employee.locator(".sc-ref")).to_have_text(REFERENCE, timeout=30_000)
    # The greeting first (its buttons come last), so nothing else is on its way.
    expect(employee.locator(".sc-buttons").first).to_be_visible(timeout=30_000)
    before = employee.locator(".sc-bot").count()
    employee.get_by_role("button", name="Stäng chatten").click()
    launcher = employee.locator(".sc-launcher")
    expect(launcher.locator(".sc-badge")).to_be_hidden()
    # The bot speaks on its own, as the upgrade's check-back does (Rasa's HTTP API).
    session = json.loads(employee.evaluate("sessionStorage.getItem('siths-chat')"))["sessionId"]
    bot = triage_stack.bot
    httpx.post(f"{bot.url}/conversations/sio-{session.split('.')[0]}/trigger_intent",
               params={"token": bot.api_token, "output_channel": "latest"},
               json={"name": "faq_puk_kostnad"}, timeout=30).raise_for_status()
    # One per message shown (the channel sends each paragraph as its own message).
    new = len(answer_parts("utter_faq_puk_kostnad"))
    expect(launcher.locator(".sc-badge")).to_have_text(str(new), timeout=30_000)
    named = employee.get_by_role("button", name=f"Frågor om SITHS-kortet? ({new} nya svar)")
    expect(named).to_be_visible()
    launcher.click()
    expect(launcher).to_be_hidden()
    assert employee.locator(".sc-bot").count() - before == new
    employee.get_by_role("button", name="Stäng chatten").click()
    expect(launcher.locator(".sc-badge")).to_be_hidden()  # read now
    employee.context.close()


def test_the_widgets_own_words_come_from_the_pages_config(browser, triage_stack):
    employee = new_page(browser)
    # The intranet page's config, as an embedding page would write it (the demo page sets
    # window.SithsChatConfig itself; this adds `texts` to whatever it sets).
    employee.add_init_script("""
        Object.defineProperty(window, "SithsChatConfig", {
          configurable: true,
          get() { return this._siths; },
          set(value) {
            this._siths = { ...value, texts: { feedbackQuestion: "Hjälpte det här svaret?",
                                               feedbackYesShort: "Ja", unread: 42 } };
          },
        });
    """)
    open_chat(employee, triage_stack.widget_url)
    employee.get_by_role("textbox", name=INPUT).fill("Vad kostar en ny PUK-kod?")
    employee.keyboard.press("Enter")
    question = employee.get_by_role("group", name="Hjälpte det här svaret?")
    try:
        expect(question).to_be_visible(timeout=30_000)
    finally:
        screenshot(employee, "widget-texts.png")
    expect(question.get_by_role("button", name="Ja, svaret hjälpte")).to_have_text("Ja")
    # A wrong type is ignored (unread must stay a function): no script error.
    assert employee.errors == []
    employee.context.close()
