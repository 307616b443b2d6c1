"""The PUK order in the chat only proposes: the agent's page places the order."""

from __future__ import annotations

from rasa.core.nlg.interpolator import interpolate_text

from actions.agent_client import CardAgentError
from actions.card_puk import ActionOrderPuk, ActionPukPrecheck
from actions.card_upgrade import ActionUpgradeStatus
from tests.actions.conftest import AGENT, run, slot, tracker
from tests.bot.responses import domain

PAGE = f"{AGENT}/orders/o1?t=one-time-token"
PROPOSED = {"order_id": "o1", "reference": "PUK-20250101-AB12", "status": "awaiting_confirmation",
            "confirm_page_url": PAGE, "page_opened": False, "created": True}
PLACED_WORDS = ("är lagd.", "har beställt", "jag har beställt", "Klart")


def text_of(message: dict) -> str:
    template = domain().responses[message["response"]][0]["text"]
    return interpolate_text(template, {k: v for k, v in message.items() if isinstance(v, str)})


def test_the_proposal_links_the_agent_page_and_places_nothing(agent):
    agent.on("POST", "/v1/puk-orders", PROPOSED)
    messages, events = run(ActionOrderPuk(), tracker({"puk_envelope_searched": True}))
    # The chat asked the agent only to propose: no cost consent in the request.
    assert agent.calls == [("POST", "/v1/puk-orders", {})]
    assert [m["response"] for m in messages] == ["utter_puk_confirm_on_page"]
    text = text_of(messages[0])
    assert f"[Öppna beställningssidan]({PAGE})" in text
    assert "inte lagd" in text and "Beställ" in text
    # The PUK flow states the cost once: on the card program's page, where the person
    # decides (the FAQ answer about the cost says it when asked).
    assert " kr" not in text
    assert " kr" not in domain().responses["utter_ask_puk_envelope_searched"][0]["text"]
    assert not any(word in text for word in PLACED_WORDS)
    assert slot(events, "puk_order_id") == "o1"


def test_the_form_needs_a_searched_envelope_before_any_call(agent):
    messages, _ = run(ActionOrderPuk(), tracker({"puk_envelope_searched": False}))
    assert agent.calls == []
    assert [m["response"] for m in messages] == ["utter_puk_search_first"]


def test_asking_again_shows_the_same_page(agent):
    # The agent returns the card's open order (same page) to a second request.
    agent.on("POST", "/v1/puk-orders", {**PROPOSED, "created": False})
    messages, events = run(ActionPukPrecheck(), tracker({"puk_order_id": "o1"}, "order_puk"))
    assert agent.calls == [("POST", "/v1/puk-orders", {})]
    assert messages[0]["response"] == "utter_puk_awaiting_confirmation"
    assert messages[0]["confirm_page_url"] == PAGE


def test_a_page_opened_elsewhere_is_pointed_to_or_relinked(agent):
    opened = {**PROPOSED, "page_opened": True, "confirm_page_url": f"{AGENT}/orders/o1",
              "created": False}
    agent.on("POST", "/v1/puk-orders", opened)
    messages, _ = run(ActionPukPrecheck(), tracker({"puk_order_id": "o1"}, "order_puk"))
    assert messages[0]["response"] == "utter_puk_confirm_page_opened"
    # A new link (the agent issued a token again): any browser, the plain wording.
    agent.on("POST", "/v1/puk-orders", {**opened, "confirm_page_url": f"{AGENT}/orders/o1?t=n"})
    messages, _ = run(ActionPukPrecheck(), tracker({"puk_order_id": "o1"}, "order_puk"))
    assert messages[0]["response"] == "utter_puk_awaiting_confirmation"


def test_an_existing_open_order_from_the_agent_is_the_same_page(agent):
    agent.on("POST", "/v1/puk-orders", {**PROPOSED, "created": False})
    messages, _ = run(ActionOrderPuk(), tracker({"puk_envelope_searched": True}))
    assert messages[0]["response"] == "utter_puk_awaiting_confirmation"
    assert messages[0]["confirm_page_url"] == PAGE


def test_without_an_order_the_form_starts_after_the_card_check(agent):
    agent.on("GET", "/v1/card/state", {"state": "not_upgraded"})
    messages, events = run(ActionPukPrecheck(), tracker({}, "order_puk"))
    assert messages == [] and agent.calls == [("GET", "/v1/card/state", None)]
    assert events[-1]["event"] == "followup" and events[-1]["name"] == "puk_form"


def test_a_confirm_page_off_the_agent_origin_is_never_shown(agent):
    for url in ("http://evil.example:8765/orders/o1?t=x", "http://127.0.0.1:9999/orders/o1",
                "https://127.0.0.1:8765/orders/o1", "http://127.0.0.2:8765/orders/o1",
                "javascript:alert(1)", "http://127.0.0.1:8765@evil.example/orders/o1", None):
        agent.on("POST", "/v1/puk-orders", {**PROPOSED, "confirm_page_url": url})
        messages, events = run(ActionOrderPuk(), tracker({"puk_envelope_searched": True}))
        assert [m["response"] for m in messages] == ["utter_card_agent_error"], url
        assert url is None or url not in repr(messages)
        assert slot(events, "puk_order_id") == "absent"


def test_status_on_request_follows_the_order(agent):
    cases = {
        "awaiting_confirmation": "utter_puk_awaiting_confirmation",
        "queued": "utter_puk_already_ordered",
        "delivered": "utter_puk_order_delivered",
        "rejected": "utter_puk_order_rejected",
        "cancelled": "utter_puk_order_cancelled_on_page",
    }
    for status, response in cases.items():
        agent.on("GET", "/v1/puk-orders/o1", {**PROPOSED, "status": status})
        messages, events = run(ActionUpgradeStatus(), tracker({"puk_order_id": "o1"},
                                                              "job_status"))
        assert [m["response"] for m in messages] == [response], status
        if status in ("rejected", "cancelled"):
            assert slot(events, "puk_order_id") is None
    agent.on("GET", "/v1/puk-orders/o1", {**PROPOSED, "page_opened": True,
                                          "confirm_page_url": f"{AGENT}/orders/o1"})
    messages, _ = run(ActionUpgradeStatus(), tracker({"puk_order_id": "o1"}, "job_status"))
    assert messages[0]["response"] == "utter_puk_confirm_page_opened"
    agent.on("GET", "/v1/puk-orders/o1", {**PROPOSED, "status": "queued",
                                          "error_code": "order_endpoint_down"})
    messages, _ = run(ActionUpgradeStatus(), tracker({"puk_order_id": "o1"}, "job_status"))
    assert messages[0]["response"] == "utter_puk_order_queued"


def test_rejected_wording_points_to_servicecenter():
    text = domain().responses["utter_puk_order_rejected"][0]["text"]
    assert "{servicecenter_contact}" in text and "ingen PUK-kod är beställd" in text


def test_an_unverified_agent_gets_an_honest_answer(agent):
    agent.on("POST", "/v1/puk-orders", CardAgentError("agent_not_verified"))
    messages, _ = run(ActionOrderPuk(), tracker({"puk_envelope_searched": True}))
    # (and the upgrade instruction: the test site's last upgrade day is ahead)
    assert [m["response"] for m in messages] == ["utter_card_agent_not_verified",
                                                 "utter_upgrade_yourself"]
    text = domain().responses["utter_card_agent_not_verified"][0]["text"]
    assert "{link_puk_order}" in text and "{servicecenter_contact}" in text
