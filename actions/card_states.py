"""The card agent's card states and the response (domain.yml) that explains each.

The one place on the bot's side that maps what the agent reports (``GET /v1/card/state``:
``state``, ``details.base_state``, ``next_step.action``) to what the user is told: the
chat's card actions (actions/card_check.py) and the printed triage script
(bot/triage_export.py) both read it. Pure data and functions: no rasa-sdk, no agent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Tuple

UNKNOWN_STATE_RESPONSE = "utter_card_agent_error"


@dataclass(frozen=True)
class StateVariant:
    """One way a card state is explained. ``base_state`` / ``next_action``: the variant
    applies only when the agent's ``details.base_state`` / ``next_step.action`` is that;
    ``label`` (Swedish) names the variant in the triage script ("" if the state has one)."""

    state: str
    response: str
    label: str = ""
    base_state: Optional[str] = None
    next_action: Optional[str] = None

    @property
    def conditional(self) -> bool:
        return self.base_state is not None or self.next_action is not None

    def matches(self, answer: Mapping[str, Any]) -> bool:
        details = answer.get("details") or {}
        next_step = answer.get("next_step") or {}
        return (
            answer.get("state") == self.state
            and (self.base_state is None or details.get("base_state") == self.base_state)
            and (self.next_action is None or next_step.get("action") == self.next_action)
        )

    def example(self) -> Dict[str, Any]:
        """An agent answer this variant explains (for the triage script and tests)."""
        answer: Dict[str, Any] = {"state": self.state, "details": {}, "next_step": {}}
        if self.base_state:
            answer["details"]["base_state"] = self.base_state
        if self.next_action:
            answer["next_step"]["action"] = self.next_action
        return answer


# In the order the triage script shows them.
STATE_VARIANTS: Tuple[StateVariant, ...] = (
    StateVariant("no_reader", "utter_card_no_reader"),
    StateVariant("no_card", "utter_card_no_card"),
    StateVariant("not_a_siths_card", "utter_card_not_a_siths_card"),
    StateVariant("expired", "utter_card_expired"),
    StateVariant("pin_blocked", "utter_card_pin_blocked"),
    StateVariant("expiring_soon", "utter_card_expiring_soon_not_upgraded",
                 "inte uppgraderat kort", base_state="not_upgraded"),
    StateVariant("expiring_soon", "utter_card_expiring_soon", "uppgraderat kort"),
    StateVariant("upgraded_with_old_restored", "utter_card_upgraded_with_old_restored"),
    StateVariant("upgraded", "utter_card_upgraded"),
    StateVariant("replacement_level2", "utter_card_replacement_level2"),
    StateVariant("not_upgraded", "utter_card_not_upgraded", "före sista dag för uppgradering"),
    StateVariant("not_upgraded", "utter_card_not_upgraded_too_late",
                 "efter sista dag för uppgradering", next_action="order_new_card"),
)

# Every state the agent reports (its CardStateName), each once.
CARD_STATES: Tuple[str, ...] = tuple(dict.fromkeys(v.state for v in STATE_VARIANTS))

# Said after the state's own response when a code has one try left (details.final_try_pins).
FINAL_TRY_RESPONSE = "utter_card_pin_final_try"

# Matching order: a variant with a condition before the state's plain one.
_MATCH_ORDER = sorted(STATE_VARIANTS, key=lambda v: not v.conditional)


def state_variant(answer: Mapping[str, Any]) -> Optional[StateVariant]:
    return next((v for v in _MATCH_ORDER if v.matches(answer)), None)


def state_response(answer: Mapping[str, Any]) -> str:
    """The response that explains the agent's answer (an unknown state: the error)."""
    variant = state_variant(answer)
    return variant.response if variant else UNKNOWN_STATE_RESPONSE


def can_be_upgraded(answer: Mapping[str, Any]) -> bool:
    details = answer.get("details") or {}
    return answer.get("state") == "not_upgraded" or (
        answer.get("state") == "expiring_soon" and details.get("base_state") == "not_upgraded"
    )
