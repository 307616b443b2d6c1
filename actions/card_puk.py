"""The PUK order conversation: the bot only PROPOSES an order.

A form makes sure the user really looked for their codes (the FAQ page asks
that), then the card agent is asked for an order proposal. The agent creates it
``awaiting_confirmation`` with ``confirm_page_url``: its own page on this
computer, which states the cost and the card. The order is placed only when the
person clicks "Beställ" on that page - nothing said in the chat places it, so a
request that anyone else sends to the bot cannot spend the unit's money.

The agent keeps at most one open order per card, so asking again returns the
same order (and the same page; a page already opened in another browser, or a
link that expired, gets a new link: the agent issues one when asked again with
POST, so "ask again" is the way back to a lost page). Its status is read on
request: awaiting
confirmation, queued (placed, in the agent's outbox), delivered, rejected by the
order system, cancelled on the page.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text
from urllib.parse import parse_qs, urlsplit

from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.agent_client import AGENT_TIMEOUT, AGENT_UNREACHABLE, CardAgentError
from actions.card_access import AgentAnswer, AgentCall, agent_page_url, run_step
from actions.card_check import READ_STATE, explain_state
from actions.card_texts import AGENT_NOT_VERIFIED, explain_error

FORM_SLOTS = ("puk_envelope_searched",)
# The order identifies the card from its certificates: it must be in the reader.
CARD_NOT_READABLE = {"no_reader", "no_card", "not_a_siths_card"}
ORDER_SYSTEM_DOWN = "order_endpoint_down"
ORDER_ERRORS = {
    "no_card": "utter_card_no_card",
    "not_a_siths_card": "utter_card_not_a_siths_card",
}
# Order status -> response (awaiting_confirmation is handled apart: it has the page).
STATUS_RESPONSES = {
    "delivered": "utter_puk_order_delivered",
    "rejected": "utter_puk_order_rejected",
    "cancelled": "utter_puk_order_cancelled_on_page",
}
# Orders that are gone: asking for a PUK again starts over.
ENDED = {"cancelled", "rejected"}


def precheck_call() -> AgentCall:
    return AgentCall("puk_precheck", READ_STATE.method, READ_STATE.path, label=READ_STATE.label)


def order_call() -> AgentCall:
    # The body asks for nothing: the agent only proposes; consent is the page's button.
    return AgentCall("order_puk", "POST", "/v1/puk-orders", body={},
                     label="utter_wait_preparing_order")


def order_status_call(order_id: str, purpose: str = "puk_order_status") -> AgentCall:
    label = "utter_wait_checking_order" if purpose == "puk_order_status" else ""
    return AgentCall(purpose, "GET", f"/v1/puk-orders/{order_id}", label=label)


def order_reference(order: Dict[str, Any]) -> str:
    return str(order.get("reference") or order.get("order_id") or "")


def order_slots(order: Optional[Dict[str, Any]]) -> List[Dict[Text, Any]]:
    if not order or order.get("status") in ENDED:
        return [SlotSet("puk_order_id", None), SlotSet("puk_order_reference", None)]
    return [
        SlotSet("puk_order_id", order.get("order_id")),
        SlotSet("puk_order_reference", order_reference(order)),
    ]


def report_order(
    dispatcher: CollectingDispatcher, order: Dict[str, Any], *, asked_again: bool = False
) -> bool:
    """Tell the user where the order stands. False when the answer cannot be
    shown (e.g. a page link that is not the agent's own): then nothing is shown
    but a short error."""
    status, reference = order.get("status"), order_reference(order)
    if status == "awaiting_confirmation":
        url = agent_page_url(order.get("confirm_page_url"))
        if url is None:
            dispatcher.utter_message(response="utter_card_agent_error")
            return False
        if order.get("page_opened") and not has_token(url):
            response = "utter_puk_confirm_page_opened"
        elif asked_again:
            response = "utter_puk_awaiting_confirmation"
        else:
            response = "utter_puk_confirm_on_page"
        dispatcher.utter_message(response=response, confirm_page_url=url)
    elif status == "queued":
        if order.get("error_code") == ORDER_SYSTEM_DOWN:
            dispatcher.utter_message(response="utter_puk_order_queued", reference=reference)
        elif asked_again:
            dispatcher.utter_message(response="utter_puk_already_ordered", reference=reference)
        else:
            dispatcher.utter_message(response="utter_puk_ordered", reference=reference)
    elif status in STATUS_RESPONSES:
        dispatcher.utter_message(response=STATUS_RESPONSES[status], reference=reference)
    else:
        dispatcher.utter_message(response="utter_card_agent_error")
        return False
    return True


def has_token(url: str) -> bool:
    """A page link that still carries its one-time token (works in any browser)."""
    return "t" in parse_qs(urlsplit(url).query)


def start_form() -> List[Dict[Text, Any]]:
    return [SlotSet(s, None) for s in FORM_SLOTS] + [FollowupAction("puk_form")]


# --- handlers of the agent's answers (direct or relayed) ---------------------------------


def handle_precheck(
    dispatcher: CollectingDispatcher, tracker: Tracker, answer: AgentAnswer
) -> List[Dict[Text, Any]]:
    if isinstance(answer, CardAgentError):
        explain_error(dispatcher, answer)
        return []
    if answer.get("state") in CARD_NOT_READABLE:
        explain_state(dispatcher, answer)
        return []
    return start_form()


def handle_order(
    dispatcher: CollectingDispatcher, tracker: Tracker, answer: AgentAnswer
) -> List[Dict[Text, Any]]:
    if isinstance(answer, CardAgentError):
        if answer.code in ORDER_ERRORS:
            dispatcher.utter_message(response=ORDER_ERRORS[answer.code])
        elif answer.code in (AGENT_UNREACHABLE, AGENT_TIMEOUT, AGENT_NOT_VERIFIED):
            explain_error(dispatcher, answer)
        else:
            dispatcher.utter_message(response="utter_puk_order_failed")
        return []
    if not report_order(dispatcher, answer, asked_again=answer.get("created") is False):
        return []
    return order_slots(answer)


def handle_order_status(
    dispatcher: CollectingDispatcher, tracker: Tracker, answer: AgentAnswer
) -> List[Dict[Text, Any]]:
    """'Är beställningen klar?'"""
    if isinstance(answer, CardAgentError):
        if answer.status == 404:
            dispatcher.utter_message(response="utter_no_puk_order")
            return order_slots(None)
        explain_error(dispatcher, answer)
        return []
    if not report_order(dispatcher, answer, asked_again=True):
        return []
    return order_slots(answer)


# --- actions ---------------------------------------------------------------------------


class ActionPukPrecheck(Action):
    """Asked again in a conversation that has proposed an order (the user has
    already said they searched): the agent is asked again, which returns the
    card's open order - the same page, or a new link to it when the page was
    opened elsewhere - or proposes anew if that order ended. Otherwise a card
    that cannot be identified is explained, or the form starts."""

    def name(self) -> Text:
        return "action_puk_precheck"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        if tracker.get_slot("puk_order_id"):
            return await run_step(dispatcher, tracker, order_call(), handle_order, domain=domain)
        return await run_step(dispatcher, tracker, precheck_call(), handle_precheck, domain=domain)


class ActionOrderPuk(Action):
    """After the form: propose the order; the person places it on the agent's page."""

    def name(self) -> Text:
        return "action_order_puk"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        reset = [SlotSet(s, None) for s in FORM_SLOTS]
        if tracker.get_slot("puk_envelope_searched") is not True:
            dispatcher.utter_message(response="utter_puk_search_first")
            return reset
        return reset + await run_step(dispatcher, tracker, order_call(), handle_order,
                                      domain=domain)
