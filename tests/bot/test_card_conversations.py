"""Card conversations over REST against the real bot, the real action server and a
real card agent reading an emulated card (SoftHSM2 + pcscd + vpcd), with the
EST test CA and the order receiver - the same stack `make demo-card` starts.

The agent and the developer tools run as processes of the agent's own virtual environment
(tests/support/card_stack.py); this one imports neither. The card is put in reader
"Virtual PCD 00 01" (the agent's own tests use it too, one at a time), so a developer's demo
card in "Virtual PCD 00 00" is left alone.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
import time
import uuid
from typing import Iterator

import httpx
import pytest

from actions.card_states import LOCAL_TIME
from bot.site_config import swedish_date
from tests.bot.responses import buttons, joined, rendered
from tests.support.card_stack import DEMO_PINS, CardWorld, card_world
from tests.support.local_stack import free_port

pytestmark = pytest.mark.stack

PIN_PAGE_LINK = re.compile(r"\[Öppna sidan för koderna\]\((http://127\.0\.0\.1:\d+/pin/[^)]+)\)")
ORDER_PAGE_LINK = re.compile(
    r"\[Öppna beställningssidan\]\((http://127\.0\.0\.1:\d+/orders/[^)]+)\)"
)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CardWorld]:
    with card_world(tmp_path_factory.mktemp("cardworld")) as w:
        yield w


def sender() -> str:
    return f"card-{uuid.uuid4().hex[:10]}"


def open_pin_page_and_submit(url: str, pins: dict) -> str:
    """What the user does in their browser: open the agent's PIN page, type the codes."""
    return click_on_agent_page(url, "Uppgradera kortet", fill=pins)


def click_on_agent_page(url: str, button: str, fill: dict | None = None) -> str:
    """What the person does: open the agent's page in Chromium, type into the
    fields named in `fill`, click `button` (no header set by hand). Returns the
    text of the page that follows.
    Playwright per call: its sync API would break the asyncio tests below."""
    from playwright.sync_api import sync_playwright

    from tests.widget.conftest import CHROMIUM

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_context(locale="sv-SE").new_page()
            page.goto(url)
            for name, value in (fill or {}).items():
                page.locator(f"input[name='{name}']").fill(value)
            page.get_by_role("button", name=button, exact=True).click()
            page.wait_for_load_state()
            return page.inner_text("body")
        finally:
            browser.close()


def wait_for_orders(world: CardWorld, count: int, timeout: float = 20) -> int:
    deadline = time.monotonic() + timeout
    while world.orders_received() < count and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(1)
    return world.orders_received()


def wait_until_done(world: CardWorld, who: str, timeout: float = 90) -> str:
    """Ask "är det klart?" until the bot reports the end of the job."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reply = joined(world.chat(who, "är det klart?"))
        if "pågår" not in reply and "väntar" not in reply.lower():
            return reply
        time.sleep(1)
    raise AssertionError("the upgrade did not finish")


def test_check_the_old_card_offers_the_upgrade(world):
    world.insert("old")
    reply = world.chat(sender(), "Kan du kontrollera mitt SITHS-kort?")
    assert joined(reply) == rendered("utter_card_not_upgraded")
    assert "/start_upgrade" in {b["payload"] for b in buttons(reply)}


def card_expiry(world: CardWorld) -> str:
    """The date the chat should name: the last expiry the agent read from the card, as a
    date in Sweden (between 23:00 and 24:00 UTC it is already the next day there)."""
    answer = httpx.get(f"{world.agent_url}/v1/card/state",
                       headers={"Authorization": f"Bearer {world.agent_token}"}, timeout=30)
    details = answer.json()["details"]
    when = dt.datetime.fromisoformat(details["latest_expiry"]).astimezone(LOCAL_TIME).date()
    return swedish_date(when)


@pytest.mark.parametrize(
    ("card", "response"),
    [
        ("upgraded", "utter_card_upgraded"),
        ("restored", "utter_card_upgraded_with_old"),
        ("replacement", "utter_card_eid_level2"),
        ("unknown", "utter_card_not_a_siths_card"),
    ],
)
def test_each_card_state_is_explained(world, card, response):
    world.insert(card)
    assert joined(world.chat(sender(), "är mitt kort uppgraderat?")) == rendered(response)


def test_an_expired_card_is_told_the_date_read_from_it(world):
    world.insert("expired")
    text = joined(world.chat(sender(), "kolla mitt kort"))
    assert text == rendered("utter_card_expired", expiry_date=card_expiry(world))
    assert re.search(r"gick ut den \d{1,2} [a-z]+ \d{4}\.", text), text


def test_a_blocked_pin_explains_the_puk_route(world):
    world.insert("blocked")
    reply = world.chat(sender(), "kolla mitt kort")
    assert joined(reply) == rendered("utter_card_pin_blocked_legitimering")
    assert "/order_puk" in {b["payload"] for b in buttons(reply)}


def test_a_pin_on_its_final_try_is_warned_about(world):
    world.insert("finaltry")
    text = joined(world.chat(sender(), "kolla mitt kort"))
    assert text.startswith(rendered("utter_card_upgraded"))
    assert "bara ett försök kvar" in text and "spärras" in text


def test_upgrade_without_codes_does_not_push_an_order(world):
    world.insert("old")
    who = sender()
    assert joined(world.chat(who, "uppgradera mitt kort nu")) == rendered(
        "utter_ask_upgrade_card_is_ordinary"
    )
    assert joined(world.chat(who, "ja")) == rendered("utter_ask_upgrade_has_codes")
    reply = world.chat(who, "nej")
    assert joined(reply) == rendered("utter_upgrade_find_codes")
    payloads = {b["payload"] for b in buttons(reply)}
    assert "/order_puk" not in payloads and "/faq_tappat_koder" in payloads


def test_a_reservkort_is_not_upgraded_and_no_codes_are_asked_for(world):
    world.insert("old")
    who = sender()
    world.chat(who, "uppgradera mitt kort nu")
    assert joined(world.chat(who, "nej")) == rendered("utter_upgrade_reservkort")
    assert joined(world.chat(who, "är det klart?")) == rendered("utter_no_upgrade_job")


def test_the_whole_upgrade_conversation_ends_with_an_upgraded_card(world):
    world.insert("old")
    who = sender()
    world.chat(who, "uppgradera mitt kort nu")
    assert "Har du båda" in joined(world.chat(who, "ja"))
    started = world.chat(who, "ja")
    text = joined(started)
    # Nothing has started before the codes are typed on the agent's page.
    assert "har startat" not in text and "börjar när du har skrivit in dem" in text
    pin_page = PIN_PAGE_LINK.search(text)
    assert pin_page, text
    # The PINs go from the user's browser to the agent, never through the chat.
    open_pin_page_and_submit(pin_page.group(1), DEMO_PINS)
    assert wait_until_done(world, who) == rendered("utter_upgrade_done")
    assert joined(world.chat(who, "är det klart?")) == rendered("utter_upgrade_already_done")
    assert joined(world.chat(who, "Kan du kontrollera mitt kort?")) == rendered(
        "utter_card_upgraded"
    )
    # Nothing of the PINs reached Rasa's store or logs.
    stored = "\n".join(
        r[0] for r in sqlite3.connect(world.bot.tracker_db).execute("SELECT data FROM events")
    )
    logs = world.bot.log_file.read_text()
    for pin in DEMO_PINS.values():
        assert pin not in stored and pin not in logs


def test_upgrade_of_a_card_that_is_already_upgraded_is_refused(world):
    world.insert("upgraded")
    text = joined(world.chat(sender(), "uppgradera mitt kort nu"))
    assert text.startswith(rendered("utter_upgrade_not_possible"))
    assert rendered("utter_card_upgraded") in text


def test_enrollment_service_down_leaves_the_card_as_it_was(world):
    world.insert("old")
    world.start_agent(CARDAGENT_EST_URL=f"https://127.0.0.1:{free_port()}/.well-known/est",
                      CARDAGENT_EST_ATTEMPTS="1", CARDAGENT_EST_TIMEOUT="2")
    try:
        who = sender()
        world.chat(who, "uppgradera mitt kort nu")
        world.chat(who, "ja")
        text = joined(world.chat(who, "ja"))
        url = PIN_PAGE_LINK.search(text).group(1)
        open_pin_page_and_submit(url, DEMO_PINS)
        assert wait_until_done(world, who) == rendered("utter_upgrade_failed_enrollment")
        assert joined(world.chat(who, "kolla mitt kort")) == rendered("utter_card_not_upgraded")
    finally:
        world.start_agent()


def test_the_chat_proposes_and_the_order_is_placed_once_on_the_agents_page(world):
    world.insert("old")
    before = world.orders_received()
    who = sender()
    assert joined(world.chat(who, "jag vill beställa en ny PUK-kod")) == rendered(
        "utter_ask_puk_envelope_searched"
    )
    proposed = joined(world.chat(who, "ja, jag har letat"))
    page = ORDER_PAGE_LINK.search(proposed)
    assert page, proposed
    assert proposed.startswith("Jag har förberett en beställning") and "inte lagd" in proposed
    # Nothing is placed by the chat: no order reaches the receiver.
    assert "Referens" not in proposed
    # Asking again in the same conversation, and in a new one: the same order, same page.
    again = joined(world.chat(who, "beställ en ny puk åt mig"))
    assert page.group(1) in again and "inte lagd" in again
    other = sender()
    world.chat(other, "jag vill beställa en ny PUK-kod")
    assert page.group(1) in joined(world.chat(other, "ja"))
    status = joined(world.chat(who, "är beställningen klar?"))
    assert "inte lagd" in status and page.group(1) in status
    assert wait_for_orders(world, before + 1, timeout=3) == before
    # The person clicks Beställ on the agent's page: exactly one order.
    click_on_agent_page(page.group(1), "Beställ")
    assert wait_for_orders(world, before + 1) == before + 1
    status = joined(world.chat(who, "är beställningen klar?"))
    reference = re.search(r"PUK-\d{8}-\w+", status)
    assert reference and "inte lagd" not in status, status
    assert reference.group(0) in joined(world.chat(other, "jag vill beställa en ny PUK-kod"))
    assert wait_for_orders(world, before + 2, timeout=3) == before + 1


def test_a_faq_question_inside_the_puk_form_is_answered_and_the_form_resumes(world):
    world.insert("old")
    who = sender()
    world.chat(who, "jag vill beställa en ny PUK-kod")
    reply = joined(world.chat(who, "Hur fungerar det med företagskort?"))
    assert reply == rendered("utter_faq_foretagskort") + "\n\n" + rendered(
        "utter_ask_puk_envelope_searched"
    )


def test_avbryt_ends_the_puk_form_and_nothing_is_ordered(world):
    world.insert("upgraded")  # another card: no open order
    before = world.orders_received()
    who = sender()
    world.chat(who, "jag vill beställa en ny PUK-kod")
    assert joined(world.chat(who, "avbryt")) == rendered("utter_puk_cancelled")
    time.sleep(2)
    assert world.orders_received() == before


def test_not_searched_yet_means_no_order(world):
    world.insert("upgraded")
    who = sender()
    world.chat(who, "jag vill beställa en ny PUK-kod")
    assert joined(world.chat(who, "nej, jag letar först")) == rendered("utter_puk_search_first")


def test_order_endpoint_down_the_order_waits_in_the_outbox(world):
    world.insert("replacement")  # a card with no order yet
    world.start_agent(CARDAGENT_ORDER_WEBHOOK_URL=f"https://127.0.0.1:{free_port()}/orders")
    try:
        who = sender()
        world.chat(who, "jag vill beställa en ny PUK-kod")
        page = ORDER_PAGE_LINK.search(joined(world.chat(who, "ja")))
        click_on_agent_page(page.group(1), "Beställ")
        time.sleep(2)
        text = joined(world.chat(who, "är beställningen klar?"))
        reference = re.search(r"PUK-\d{8}-\w+", text)
        assert reference, text
        assert text == rendered("utter_puk_order_queued", reference=reference.group(0))
    finally:
        world.start_agent()


def test_no_card_in_the_reader(world):
    world.remove()
    assert joined(world.chat(sender(), "kolla mitt kort")) == rendered("utter_card_no_card")


# --- the actions on their own, against the same real agent (rasa-sdk, no Rasa) -------------


def run_action(action, monkeypatch, world, slots=None):
    import asyncio

    from rasa_sdk import Tracker
    from rasa_sdk.executor import CollectingDispatcher

    monkeypatch.setenv("CARDAGENT_URL", world.agent_url)
    monkeypatch.setenv("CARDAGENT_TOKEN", world.agent_token)
    tracker = Tracker("unit", slots or {}, {"intent": {"name": "check_card"}}, [], False,
                      None, {}, "action_listen")
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tracker, {}))
    return dispatcher.messages, events


def test_action_check_card_reads_the_real_agent(world, monkeypatch):
    from actions.card_check import ActionCheckCard

    world.insert("blocked")
    messages, events = run_action(ActionCheckCard(), monkeypatch, world)
    assert [m["response"] for m in messages] == ["utter_card_pin_blocked_legitimering"]
    assert events == [{"event": "slot", "timestamp": None, "name": "card_state",
                       "value": "pin_blocked"}]


def test_action_puk_precheck_starts_the_form_only_with_a_card(world, monkeypatch):
    from actions.card_puk import ActionPukPrecheck

    world.insert("old")
    messages, events = run_action(ActionPukPrecheck(), monkeypatch, world)
    assert messages == []
    assert events[-1] == {"event": "followup", "timestamp": None, "name": "puk_form"}
    world.remove()
    messages, events = run_action(ActionPukPrecheck(), monkeypatch, world)
    assert [m["response"] for m in messages] == ["utter_card_no_card"]
    assert not any(e.get("event") == "followup" for e in events)
