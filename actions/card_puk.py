"""The PUK order conversation: a form that makes sure the user really looked
for their codes and accepts the cost, then one order on the card agent.

The agent keeps at most one open order per card, so asking again returns the
same order and never charges the unit twice.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.agent_client import CardAgentClient, CardAgentError
from actions.card_check import explain_state, read_card_state
from actions.card_texts import explain_error

FORM_SLOTS = ("puk_envelope_searched", "puk_cost_confirmed")
# The order identifies the card from its certificates: it must be in the reader.
CARD_NOT_READABLE = {"no_reader", "no_card", "not_a_siths_card"}
DELIVERED = {"delivered"}


def order_reference(order: Dict[str, Any]) -> str:
    return str(order.get("reference") or order.get("id") or "")


def report_order(
    dispatcher: CollectingDispatcher, order: Dict[str, Any], *, existing: bool
) -> None:
    reference = order_reference(order)
    if existing:
        dispatcher.utter_message(response="utter_puk_already_ordered", reference=reference)
    elif order.get("status") in DELIVERED:
        dispatcher.utter_message(response="utter_puk_ordered", reference=reference)
    else:
        dispatcher.utter_message(response="utter_puk_order_queued", reference=reference)


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
        try:
            order = await CardAgentClient().order_puk()
        except CardAgentError as error:
            if error.code in ("agent_unreachable", "agent_timeout"):
                explain_error(dispatcher, error)
            else:
                dispatcher.utter_message(response="utter_puk_order_failed")
            return reset
        existing = bool(order.get("existing") or order.get("already_open"))
        report_order(dispatcher, order, existing=existing)
        return reset + [SlotSet("puk_order_id", order.get("id") or order_reference(order))]
