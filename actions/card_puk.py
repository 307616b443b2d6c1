"""The PUK order conversation: a form that makes sure the user really looked
for their codes and accepts the cost, then one order on the card agent.

The agent keeps at most one open order per card, so asking again returns the
same order and never charges the unit twice.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.agent_client import CardAgentClient, CardAgentError
from actions.card_check import explain_state, read_card_state
from actions.card_texts import explain_error

FORM_SLOTS = ("puk_envelope_searched", "puk_cost_confirmed")
ORDER_SYSTEM_DOWN = "order_endpoint_down"
# How long to watch a new order's first delivery before answering.
FIRST_DELIVERY_WAIT_S = 3.0
# The order identifies the card from its certificates: it must be in the reader.
CARD_NOT_READABLE = {"no_reader", "no_card", "not_a_siths_card"}


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


async def after_first_delivery(client: CardAgentClient, order: Dict[str, Any]) -> Dict[str, Any]:
    """The order once its first delivery attempt is known (or the wait is over), so
    the user hears whether it waits in the agent's outbox."""
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


class ActionPukPrecheck(Action):
    """An order already placed is shown again; a card that cannot be identified
    is explained; otherwise the form starts."""

    def name(self) -> Text:
        return "action_puk_precheck"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        client = CardAgentClient()
        order_id: Optional[str] = tracker.get_slot("puk_order_id")
        if order_id:
            try:
                order = await client.puk_order(order_id)
            except CardAgentError:
                order = {}
            if order and order.get("status") not in ("cancelled", "rejected"):
                report_order(dispatcher, order, existing=True)
                return []
        state = await read_card_state(dispatcher, client)
        if state is None:
            return []
        if state.get("state") in CARD_NOT_READABLE:
            explain_state(dispatcher, state)
            return []
        return [SlotSet(s, None) for s in FORM_SLOTS] + [FollowupAction("puk_form")]


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
        client = CardAgentClient()
        try:
            order = await client.order_puk()
        except CardAgentError as error:
            if error.code in ("no_card", "not_a_siths_card"):
                dispatcher.utter_message(response=f"utter_card_{error.code}")
            elif error.code in ("agent_unreachable", "agent_timeout"):
                explain_error(dispatcher, error)
            else:
                dispatcher.utter_message(response="utter_puk_order_failed")
            return reset
        existing = order.get("created") is False
        if not existing:
            order = await after_first_delivery(client, order)
        report_order(dispatcher, order, existing=existing)
        return reset + [SlotSet("puk_order_id", order.get("order_id"))]
