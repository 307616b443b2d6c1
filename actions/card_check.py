"""Check the user's card: ask the card agent for its state and explain it."""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.agent_client import CardAgentError
from actions.card_access import AgentAnswer, AgentCall, run_step
from actions.card_texts import PIN_NAMES, explain_error

READ_STATE = AgentCall("check_card", "GET", "/v1/card/state", label="Jag läser ditt kort …")

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


def can_be_upgraded(state: Dict[str, Any]) -> bool:
    details = state.get("details") or {}
    return state.get("state") == "not_upgraded" or (
        state.get("state") == "expiring_soon" and details.get("base_state") == "not_upgraded"
    )


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


def handle_state(
    dispatcher: CollectingDispatcher, tracker: Tracker, answer: AgentAnswer
) -> List[Dict[Text, Any]]:
    if isinstance(answer, CardAgentError):
        explain_error(dispatcher, answer)
        return [SlotSet("card_state", None)]
    explain_state(dispatcher, answer)
    return [SlotSet("card_state", answer.get("state"))]


class ActionCheckCard(Action):
    def name(self) -> Text:
        return "action_check_card"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        return await run_step(dispatcher, tracker, READ_STATE, handle_state)
