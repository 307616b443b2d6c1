"""Check the user's card: ask the card agent for its state and explain it."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.agent_client import CardAgentClient, CardAgentError
from actions.card_texts import PIN_NAMES, explain_error

# Agent state -> the response that explains it (domain.yml, utter_card_*).
STATE_RESPONSES = {
    "no_reader": "utter_card_no_reader",
    "no_card": "utter_card_no_card",
    "not_upgraded": "utter_card_not_upgraded",
    "upgraded": "utter_card_upgraded",
    "upgraded_with_old_restored": "utter_card_upgraded_with_old_restored",
    "replacement_level2": "utter_card_replacement_level2",
    "expiring_soon": "utter_card_expiring_soon",
    "expired": "utter_card_expired",
    "pin_blocked": "utter_card_pin_blocked",
    "not_a_siths_card": "utter_card_not_a_siths_card",
}


def state_response(state: Dict[str, Any]) -> str:
    name = state.get("state", "")
    details = state.get("details") or {}
    if name == "expiring_soon" and details.get("base_state") == "not_upgraded":
        return "utter_card_expiring_soon_not_upgraded"
    if name == "not_upgraded" and (state.get("next_step") or {}).get("action") == "order_new_card":
        return "utter_card_not_upgraded_too_late"
    return STATE_RESPONSES.get(name, "utter_card_agent_error")


def pin_name(roles: List[str]) -> str:
    names = [PIN_NAMES.get(r, r) for r in roles] or [PIN_NAMES["legitimering"]]
    return " och ".join(names)


def explain_state(dispatcher: CollectingDispatcher, state: Dict[str, Any]) -> None:
    """Say what the card's state means and what to do next."""
    details = state.get("details") or {}
    dispatcher.utter_message(
        response=state_response(state),
        pin_name=pin_name(details.get("blocked_pins") or []),
        days_left=details.get("days_left") if details.get("days_left") is not None else "",
    )
    if details.get("final_try_pins") and state.get("state") != "pin_blocked":
        dispatcher.utter_message(
            response="utter_card_pin_final_try", pin_name=pin_name(details["final_try_pins"])
        )


async def read_card_state(
    dispatcher: CollectingDispatcher, client: Optional[CardAgentClient] = None
) -> Optional[Dict[str, Any]]:
    """The card state, or None after telling the user why it could not be read."""
    try:
        return await (client or CardAgentClient()).card_state()
    except CardAgentError as error:
        explain_error(dispatcher, error)
        return None


class ActionCheckCard(Action):
    def name(self) -> Text:
        return "action_check_card"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        state = await read_card_state(dispatcher)
        if state is None:
            return [SlotSet("card_state", None)]
        explain_state(dispatcher, state)
        return [SlotSet("card_state", state.get("state"))]
