"""Check the user's card: ask the card agent for its state and explain it."""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.agent_client import CardAgentError
from actions.card_access import AgentAnswer, AgentCall, run_step
from actions.card_states import FINAL_TRY_RESPONSE, can_be_upgraded, state_response
from actions.card_texts import PIN_NAMES, explain_error

__all__ = ["READ_STATE", "ActionCheckCard", "can_be_upgraded", "explain_state", "handle_state"]

READ_STATE = AgentCall("check_card", "GET", "/v1/card/state", label="Jag läser ditt kort …")


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
            response=FINAL_TRY_RESPONSE, pin_name=pin_name(details["final_try_pins"])
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
