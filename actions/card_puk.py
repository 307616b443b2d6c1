"""The PUK order conversation: a form that makes sure the user really looked
for their codes and accepts the cost, then one order on the card agent.

The agent keeps at most one open order per card, so asking again returns the
same order and never charges the unit twice.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Dict, List, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.agent_client import AGENT_TIMEOUT, AGENT_UNREACHABLE, CardAgentClient, CardAgentError
from actions.card_access import AgentAnswer, AgentCall, ask_agent, relay_mode, run_step
from actions.card_check import READ_STATE, explain_state
from actions.card_texts import explain_error

FORM_SLOTS = ("puk_envelope_searched", "puk_cost_confirmed")
# The order identifies the card from its certificates: it must be in the reader.
CARD_NOT_READABLE = {"no_reader", "no_card", "not_a_siths_card"}
ORDER_SYSTEM_DOWN = "order_endpoint_down"
# How long to watch a new order's first delivery before answering (direct access).
FIRST_DELIVERY_WAIT_S = 3.0
ORDER_ERRORS = {
    "no_card": "utter_card_no_card",
    "not_a_siths_card": "utter_card_not_a_siths_card",
}


def precheck_call() -> AgentCall:
    return AgentCall("puk_precheck", READ_STATE.method, READ_STATE.path, label=READ_STATE.label)


def order_call() -> AgentCall:
    return AgentCall("order_puk", "POST", "/v1/puk-orders", body={"confirm_cost": True},
                     label="Jag beställer PUK-koden …")


def order_reference(order: Dict[str, Any]) -> str:
    return str(order.get("reference") or order.get("order_id") or "")


def report_order(
    dispatcher: CollectingDispatcher, order: Dict[str, Any], *, existing: bool
) -> None:
    reference = order_reference(order)
    if existing:
        dispatcher.utter_message(response="utter_puk_already_ordered", reference=reference)
    elif order.get("error_code") == ORDER_SYSTEM_DOWN:
        dispatcher.utter_message(response="utter_puk_order_queued", reference=reference)
    else:
        dispatcher.utter_message(response="utter_puk_ordered", reference=reference)


async def after_first_delivery(order: Dict[str, Any]) -> Dict[str, Any]:
    """The order once its first delivery attempt is known (or the wait is over), so
    the user hears whether it waits in the agent's outbox."""
    client = CardAgentClient()
    deadline = time.monotonic() + FIRST_DELIVERY_WAIT_S
    while (
        order.get("status") == "queued"
        and not order.get("error_code")
        and time.monotonic() < deadline
    ):
        await asyncio.sleep(0.3)
        try:
            order = await client.puk_order(order["order_id"])
        except (CardAgentError, KeyError):
            break
    return order


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
    return [SlotSet(s, None) for s in FORM_SLOTS] + [FollowupAction("puk_form")]


def handle_order(
    dispatcher: CollectingDispatcher, tracker: Tracker, answer: AgentAnswer
) -> List[Dict[Text, Any]]:
    if isinstance(answer, CardAgentError):
        if answer.code in ORDER_ERRORS:
            dispatcher.utter_message(response=ORDER_ERRORS[answer.code])
        elif answer.code in (AGENT_UNREACHABLE, AGENT_TIMEOUT):
            explain_error(dispatcher, answer)
        else:
            dispatcher.utter_message(response="utter_puk_order_failed")
        return []
    report_order(dispatcher, answer, existing=answer.get("created") is False)
    return [
        SlotSet("puk_order_id", answer.get("order_id")),
        SlotSet("puk_order_reference", order_reference(answer)),
    ]


# --- actions ---------------------------------------------------------------------------


class ActionPukPrecheck(Action):
    """An order already placed in this conversation is shown again; a card that
    cannot be identified is explained; otherwise the form starts."""

    def name(self) -> Text:
        return "action_puk_precheck"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        if tracker.get_slot("puk_order_reference"):
            dispatcher.utter_message(
                response="utter_puk_already_ordered",
                reference=tracker.get_slot("puk_order_reference"),
            )
            return []
        return await run_step(dispatcher, tracker, precheck_call(), handle_precheck)


class ValidatePukForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_puk_form"

    async def required_slots(
        self,
        domain_slots: List[Text],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> List[Text]:
        # Someone who has not looked for the envelope yet is not asked about cost.
        if tracker.get_slot("puk_envelope_searched") is False:
            return []
        return list(FORM_SLOTS)


class ActionOrderPuk(Action):
    """After the form: place the order only on two explicit yeses."""

    def name(self) -> Text:
        return "action_order_puk"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        reset = [SlotSet(s, None) for s in FORM_SLOTS]
        if tracker.get_slot("puk_envelope_searched") is not True:
            dispatcher.utter_message(response="utter_puk_search_first")
            return reset
        if tracker.get_slot("puk_cost_confirmed") is not True:
            dispatcher.utter_message(response="utter_puk_not_ordered")
            return reset
        answer = await ask_agent(dispatcher, tracker, order_call())
        if answer is None:
            return reset
        if isinstance(answer, dict) and answer.get("created") and not relay_mode():
            answer = {**await after_first_delivery(answer), "created": True}
        return reset + handle_order(dispatcher, tracker, answer)
