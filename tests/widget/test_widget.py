"""The intranet widget in headless Chromium (Debian's, driven by Playwright)
against the real bot: a conversation with a button click and a page reload,
masking, reconnecting, escaping, custom payloads, keyboard and ARIA, contrast
and phone width."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Page, expect

from bot.domain_texts import code_notice
from tests.bot.responses import domain, rendered

pytestmark = pytest.mark.stack

LAUNCHER = "Frågor om SITHS-kortet?"
INPUT = "Skriv din fråga"


def open_chat(page: Page, url: str) -> None:
    page.goto(url)
    page.get_by_role("button", name=LAUNCHER).click()
    expect(page.get_by_role("dialog", name="SITHS-hjälpen")).to_be_visible()


def bubbles(page: Page) -> list[str]:
    texts = page.locator(".sc-msg").all_inner_texts()
    return [re.sub(r"^(SITHS-hjälpen|Du): ", "", t.replace("\n", " ", 1)).strip() for t in texts]


def session_id(page: Page) -> str:
    return json.loads(page.evaluate("sessionStorage.getItem('siths-chat')"))["sessionId"]


def greet_button() -> dict:
    buttons = domain().responses["utter_greet"][0]["buttons"]
    return next((b for b in buttons if b["payload"] == "/faq_puk_kostnad"), buttons[0])


def answer_parts(response: str) -> list[str]:
    """The bubbles one response becomes (the channel splits at blank lines)."""
    text = rendered(response)
    return [re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", p).strip() for p in text.split("\n\n")]


def test_conversation_with_button_click_and_reload(demo, page, output_dir):
    open_chat(page, demo.page_url)
    button = greet_button()
    page.get_by_role("button", name=button["title"]).click(timeout=60_000)
    expected = answer_parts(f"utter_{button['payload'][1:]}")
    expect(page.locator(".sc-bot").last).to_contain_text(expected[-1][:40], timeout=30_000)
    assert bubbles(page)[-len(expected):] == expected
    assert button["title"] in bubbles(page)  # the click is shown as the user's message
    page.screenshot(path=str(output_dir / "conversation.png"))

    sid = session_id(page)
    before = bubbles(page)
    page.reload()
    expect(page.get_by_role("dialog", name="SITHS-hjälpen")).to_be_visible()
    assert bubbles(page) == before  # the transcript survives the reload
    assert session_id(page) == sid

    page.get_by_role("textbox", name=INPUT).fill("Hur fungerar det med företagskort?")
    page.keyboard.press("Enter")
    expected = answer_parts("utter_faq_foretagskort")
    expect(page.locator(".sc-bot").last).to_contain_text(expected[-1][:40], timeout=30_000)
    page.screenshot(path=str(output_dir / "after-reload.png"))

    # Same conversation on the server: both turns are in one tracker.
    texts = [e.get("text") for e in demo.bot.tracker(sid)["events"] if e["event"] == "user"]
    assert button["payload"] in texts
    assert "Hur fungerar det med företagskort?" in texts
    assert page.errors == []


def test_codes_are_masked_before_they_are_shown_stored_or_sent(demo, page):
    open_chat(page, demo.page_url)
    page.get_by_role("textbox", name=INPUT).fill("min puk är 12345678 och pnr 19121212-1212")
    page.keyboard.press("Enter")
    expect(page.get_by_text(code_notice())).to_be_visible(timeout=30_000)
    log = page.locator(".sc-log").inner_text()
    assert "12345678" not in log and "19121212" not in log
    assert "[dold kod]" in log and "[dolt personnummer]" in log
    stored = page.evaluate("JSON.stringify(sessionStorage)")
    assert "12345678" not in stored and "1212" not in stored
    sent = [e.get("text") or "" for e in demo.bot.tracker(session_id(page))["events"]
            if e["event"] == "user"]
    assert not any("12345678" in t for t in sent)


def test_reconnects_by_itself_and_keeps_the_session(demo, page):
    open_chat(page, demo.page_url)
    expect(page.locator(".sc-bot").first).to_be_visible(timeout=30_000)
    status = page.get_by_role("status")
    page.context.set_offline(True)
    expect(status).to_contain_text("Försöker igen", timeout=60_000)
    page.context.set_offline(False)
    expect(status).to_have_text("", timeout=30_000)
    page.get_by_role("textbox", name=INPUT).fill("Vad innebär tillitsnivåer?")
    page.keyboard.press("Enter")
    expect(page.get_by_text("ISO/IEC 29115", exact=False)).to_be_visible(timeout=30_000)
    assert len({e.get("text") for e in demo.bot.tracker(session_id(page))["events"]
                if e["event"] == "user"}) >= 2


PUK_COST = "Vad kostar en ny PUK-kod?"


def ask_puk_cost(page: Page) -> None:
    page.get_by_role("textbox", name=INPUT).fill(PUK_COST)
    page.keyboard.press("Enter")
    expected = answer_parts("utter_faq_puk_kostnad")
    expect(page.locator(".sc-bot").last).to_contain_text(expected[-1][:40], timeout=30_000)


def test_the_widget_upgrades_to_a_websocket_and_talks_over_it(demo, page):
    sockets = []
    page.on("websocket", lambda ws: sockets.append(ws))
    open_chat(page, demo.page_url)
    expect(page.locator(".sc-bot").first).to_be_visible(timeout=30_000)
    page.wait_for_function(
        "() => SithsChat.instance.socket.io.engine.transport.name === 'websocket'",
        timeout=30_000)
    assert [ws.url.split("?")[0] for ws in sockets] == [
        demo.bot.url.replace("http", "ws", 1) + "/socket.io/"]
    received = []
    sockets[0].on("framereceived", lambda payload: received.append(payload))
    ask_puk_cost(page)
    # The answer came over the websocket, not over a poll.
    assert any("bot_uttered" in str(f) for f in received)


def test_where_websockets_are_blocked_the_widget_stays_on_long_polling(demo, page):
    page.route_web_socket(re.compile(r".*/socket\.io/.*"), lambda ws: ws.close())
    open_chat(page, demo.page_url)
    expect(page.locator(".sc-bot").first).to_be_visible(timeout=30_000)
    ask_puk_cost(page)
    assert page.evaluate("SithsChat.instance.socket.io.engine.transport.name") == "polling"


def test_typing_indicator_shows_while_waiting(demo, page):
    open_chat(page, demo.page_url)
    expect(page.locator(".sc-bot").first).to_be_visible(timeout=30_000)
    typing = page.locator(".sc-typing")
    page.evaluate("SithsChat.instance.showTyping()")
    expect(typing).to_be_visible()
    expect(typing).to_contain_text("SITHS-hjälpen skriver")
    page.get_by_role("textbox", name=INPUT).fill("Hur har uppgraderingen gått i andra regioner?")
    page.keyboard.press("Enter")
    expect(page.get_by_text("30 000", exact=False)).to_be_visible(timeout=30_000)
    expect(typing).to_be_hidden()


HOSTILE = [
    {"text": '<img src=x onerror="window.__xss=1"><b>fet</b> [klick](javascript:alert(1))'},
    {"text": "Länk: [här](https://intranat.example.org/siths)",
     "quick_replies": [{"title": "<script>window.__xss=2</script>", "payload": "/greet"}]},
    {"attachment": {"type": "image", "payload": {"src": "javascript:window.__xss=3"}}},
    {"type": "unknown_widget", "text": "<i>okänd</i>"},
    {"type": "demo_card", "title": "Kortet"},
]


def test_bot_and_user_text_is_escaped_and_custom_payloads_use_handlers(demo, page):
    open_chat(page, demo.page_url)
    expect(page.locator(".sc-bot").first).to_be_visible(timeout=30_000)
    page.evaluate(
        """() => SithsChat.registerPayloadHandler("demo_card", (payload, api) =>
               api.el("strong", {class: "demo-card", text: payload.title}))"""
    )
    for message in HOSTILE:
        page.evaluate("m => SithsChat.instance.receive(m)", message)
    page.get_by_role("textbox", name=INPUT).fill('<img src=y onerror="window.__xss=4">')
    page.keyboard.press("Enter")

    log = page.locator(".sc-log")
    assert log.locator("img, b, i, script").count() == 0
    assert page.evaluate("window.__xss") is None
    expect(log).to_contain_text('<img src=x onerror="window.__xss=1"><b>fet</b>')
    expect(log).to_contain_text("[klick](javascript:alert(1))")  # unsafe link stays text
    link = log.get_by_role("link", name=re.compile("^här"))
    expect(link).to_have_attribute("href", "https://intranat.example.org/siths")
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    expect(log.get_by_role("button", name="<script>window.__xss=2</script>")).to_be_visible()
    expect(log).to_contain_text("<i>okänd</i>")  # unknown custom payload: generic rendering
    expect(log.locator(".demo-card")).to_have_text("Kortet")

    # After a reload, a handler given in the config re-renders it with restored=True.
    page.add_init_script("""Object.defineProperty(window, "SithsChatConfig", {
        set(v) { v.payloadHandlers = {demo_card: (p, api) => api.el("strong",
                   {class: "demo-card", text: p.title + (api.restored ? " (återställd)" : "")})};
                 this._cfg = v; },
        get() { return this._cfg; }, configurable: true})""")
    page.reload()
    expect(page.locator(".demo-card")).to_have_text("Kortet (återställd)")
    assert page.evaluate("window.__xss") is None


def test_keyboard_and_aria(demo, page):
    page.goto(demo.page_url)
    launcher = page.get_by_role("button", name=LAUNCHER)
    expect(launcher).to_have_attribute("aria-expanded", "false")
    for _ in range(10):  # Tab through the page until the launcher has focus
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement?.shadowRoot?.activeElement?.className")
        if focused == "sc-launcher":
            break
    else:
        raise AssertionError("the launcher cannot be reached with Tab")
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="SITHS-hjälpen")
    expect(dialog).to_be_visible()
    textbox = page.get_by_role("textbox", name=INPUT)
    expect(textbox).to_be_focused()
    expect(page.get_by_role("log", name="Konversation")).to_be_visible()
    expect(page.get_by_role("status")).to_have_count(1)
    expect(page.get_by_role("button", name="Skicka")).to_be_visible()
    reply = page.locator(".sc-reply").first
    expect(reply).to_be_visible(timeout=30_000)
    reply.focus()
    page.keyboard.press("Enter")  # buttons work from the keyboard
    expect(page.locator(".sc-user")).to_have_count(1)
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(launcher).to_be_focused()
    expect(launcher).to_have_attribute("aria-expanded", "false")


CONTRAST_JS = """() => {
  const root = SithsChat.instance.root;
  const lum = (c) => {
    const [r, g, b] = c.match(/[\\d.]+/g).slice(0, 3).map(Number).map((v) => {
      v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const bg = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = getComputedStyle(e).backgroundColor;
      if (!c.startsWith("rgba(0, 0, 0, 0)") && c !== "transparent") return c;
    }
    return "rgb(255, 255, 255)";
  };
  const out = {};
  for (const sel of [".sc-bot", ".sc-user", ".sc-reply", ".sc-send", ".sc-header h2",
                     ".sc-note", ".sc-input", ".sc-bot a", ".sc-header button"]) {
    const el = root.querySelector(sel);
    if (!el) { out[sel] = null; continue; }
    const [a, b] = [lum(getComputedStyle(el).color), lum(bg(el))];
    out[sel] = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  }
  return out;
}"""


def test_colours_meet_wcag_aa(demo, page):
    open_chat(page, demo.page_url)
    page.get_by_role("textbox", name=INPUT).fill("Vad gör jag om jag inte har kvar mina koder?")
    page.keyboard.press("Enter")
    expect(page.locator(".sc-bot a").first).to_be_visible(timeout=30_000)
    ratios = page.evaluate(CONTRAST_JS)
    assert None not in ratios.values(), ratios
    assert all(r >= 4.5 for r in ratios.values()), ratios


def test_usable_at_phone_width(demo, browser, output_dir):
    context = browser.new_context(viewport={"width": 360, "height": 640}, is_mobile=True,
                                  has_touch=True, locale="sv-SE")
    page = context.new_page()
    try:
        open_chat(page, demo.page_url)
        reply = page.locator(".sc-reply").first
        expect(reply).to_be_visible(timeout=30_000)
        box = page.locator(".sc-panel").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 360
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        for sel in (".sc-input", ".sc-send", ".sc-reply"):
            b = page.locator(sel).first.bounding_box()
            assert b["x"] >= 0 and b["x"] + b["width"] <= 360 and b["height"] >= 24, sel
        reply.tap()
        expect(page.locator(".sc-user")).to_have_count(1)
        page.screenshot(path=str(output_dir / "phone.png"))
    finally:
        context.close()
