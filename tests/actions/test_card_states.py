"""The card states on the bot's side (actions/card_states.py): every state the agent
reports has a response in domain.yml, each variant is told as itself, in the chat's
card check and in the triage script alike."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

from actions.card_check import ActionCheckCard
from actions.card_states import (
    CARD_STATES,
    FINAL_TRY_RESPONSE,
    STATE_VARIANTS,
    UNKNOWN_STATE_RESPONSE,
    can_be_upgraded,
    state_response,
)
from tests.actions.conftest import run, slot, tracker

REPO = Path(__file__).resolve().parents[2]
AGENT_MODELS = REPO / "agent" / "src" / "cardagent" / "models.py"


def agent_state_names() -> set[str]:
    """The values of the agent's CardStateName enum, read from its source (the bot's
    virtual environment has no cardagent to import)."""
    tree = ast.parse(AGENT_MODELS.read_text(encoding="utf-8"))
    enum = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "CardStateName")
    return {
        node.value.value
        for node in enum.body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
    }


def test_the_bot_knows_exactly_the_agents_card_states():
    names = agent_state_names()
    assert len(names) >= 10
    assert set(CARD_STATES) == names
    assert len(CARD_STATES) == len(names)


def test_every_response_is_in_the_domain():
    responses = yaml.safe_load((REPO / "domain.yml").read_text(encoding="utf-8"))["responses"]
    for name in [v.response for v in STATE_VARIANTS] + [FINAL_TRY_RESPONSE,
                                                        UNKNOWN_STATE_RESPONSE]:
        assert name in responses, name
    assert len({v.response for v in STATE_VARIANTS}) == len(STATE_VARIANTS)


@pytest.mark.parametrize("variant", STATE_VARIANTS, ids=lambda v: v.response)
def test_each_variant_is_told_as_itself(variant):
    assert state_response(variant.example()) == variant.response


def test_the_variants_by_what_the_agent_says():
    expiring = {"state": "expiring_soon", "details": {"days_left": 20}}
    assert state_response(expiring) == "utter_card_expiring_soon"
    expiring["details"]["base_state"] = "not_upgraded"
    assert state_response(expiring) == "utter_card_expiring_soon_not_upgraded"
    late = {"state": "not_upgraded", "next_step": {"action": "order_new_card"}}
    assert state_response(late) == "utter_card_not_upgraded_too_late"
    assert state_response({"state": "not_upgraded", "next_step": {"action": "upgrade"}}) == (
        "utter_card_not_upgraded")
    for odd in ({}, {"state": "melted"}, {"state": None, "details": None}):
        assert state_response(odd) == UNKNOWN_STATE_RESPONSE


def test_which_cards_can_be_upgraded():
    upgradable = {v.response for v in STATE_VARIANTS if can_be_upgraded(v.example())}
    assert upgradable == {"utter_card_not_upgraded", "utter_card_not_upgraded_too_late",
                          "utter_card_expiring_soon_not_upgraded"}


@pytest.mark.parametrize("variant", STATE_VARIANTS, ids=lambda v: v.response)
def test_the_chats_card_check_says_the_same(agent, variant):
    agent.on("GET", "/v1/card/state", variant.example())
    messages, events = run(ActionCheckCard(), tracker({}, "check_card"))
    assert [m["response"] for m in messages] == [variant.response]
    assert slot(events, "card_state") == variant.state


def test_a_code_on_its_final_try_is_warned_about(agent):
    agent.on("GET", "/v1/card/state", {"state": "upgraded",
                                       "details": {"final_try_pins": ["underskrift"]}})
    messages, _ = run(ActionCheckCard(), tracker({}, "check_card"))
    assert [m["response"] for m in messages] == ["utter_card_upgraded", FINAL_TRY_RESPONSE]
    assert messages[1]["pin_name"] == "signering"
