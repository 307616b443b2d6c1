"""What the chat says about a card (actions/card_states.py): the agent's facts and the
site's dates decide the response; every response exists in domain.yml; the agent's state
names are exactly the ones the bot knows."""

from __future__ import annotations

import ast
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from actions import card_check
from actions.card_check import ActionCheckCard
from actions.card_states import (
    CARD_STATES,
    UNKNOWN_STATE_RESPONSE,
    can_be_upgraded,
    card_cases,
    explain_card,
    role_key,
)
from tests.actions.conftest import run, slot, tracker

REPO = Path(__file__).resolve().parents[2]
AGENT_MODELS = REPO / "agent" / "src" / "cardagent" / "models.py"


@dataclass(frozen=True)
class Dates:
    upgrade_last_day: dt.date = dt.date(2030, 12, 31)
    expiry_choice_before: dt.date = dt.date(2030, 11, 30)

    def upgrade_open(self, today: dt.date) -> bool:
        return today <= self.upgrade_last_day


DATES = Dates()
TODAY = dt.date(2030, 6, 1)


def iso(day: dt.date) -> str:
    return f"{day.isoformat()}T12:00:00+00:00"


def old_card(expiry: dt.date, state: str = "not_upgraded") -> dict:
    return {"state": state, "details": {"base_state": "not_upgraded",
                                        "earliest_expiry": iso(expiry)}}


def said(answer: dict, today: dt.date = TODAY) -> list:
    return [(u.response, dict(u.values)) for u in explain_card(answer, DATES, today)]


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


def test_every_case_has_its_responses_in_the_domain_and_every_card_response_is_used():
    responses = yaml.safe_load((REPO / "domain.yml").read_text(encoding="utf-8"))["responses"]
    used = {u.response for c in card_cases(DATES) for u in explain_card(c.answer, DATES, c.today)}
    assert used <= set(responses)
    card_responses = {r for r in responses if r.startswith("utter_card_")}
    agent_failures = {"utter_card_agent_unreachable", "utter_card_not_reachable_here",
                      "utter_card_agent_not_verified", "utter_card_agent_error",
                      "utter_card_removed", "utter_card_no_reader_service"}
    assert card_responses - agent_failures == used


def test_an_old_card_within_the_window_is_offered_the_upgrade():
    far = DATES.upgrade_last_day + dt.timedelta(days=900)
    assert said(old_card(far)) == [("utter_card_not_upgraded", {})]
    assert can_be_upgraded(old_card(far), DATES, TODAY)
    # The last day itself still counts.
    assert said(old_card(far), DATES.upgrade_last_day) == [("utter_card_not_upgraded", {})]
    assert can_be_upgraded(old_card(far), DATES, DATES.upgrade_last_day)


def test_after_the_last_upgrade_day_an_old_card_needs_a_new_card():
    day_after = DATES.upgrade_last_day + dt.timedelta(days=1)
    for card in (old_card(dt.date(2033, 1, 1)),
                 old_card(DATES.expiry_choice_before - dt.timedelta(days=5), "expiring_soon")):
        assert said(card, day_after) == [("utter_card_not_upgraded_too_late", {})]
        assert not can_be_upgraded(card, DATES, day_after)


def test_after_the_last_day_an_old_card_with_a_blocked_code_needs_a_new_card_not_a_puk():
    blocked = {"state": "pin_blocked", "details": {"base_state": "not_upgraded",
                                                   "blocked_pins": ["legitimering"]}}
    day_after = DATES.upgrade_last_day + dt.timedelta(days=1)
    assert said(blocked, day_after) == [("utter_card_not_upgraded_too_late", {})]
    assert said(blocked) == [("utter_card_pin_blocked_legitimering", {})]
    upgraded = {"state": "pin_blocked", "details": {"base_state": "upgraded",
                                                    "blocked_pins": ["legitimering"]}}
    assert said(upgraded, day_after) == [("utter_card_pin_blocked_legitimering", {})]


def test_a_date_read_from_the_card_is_the_day_in_sweden():
    late_evening = {"state": "expiring_soon", "details": {
        "base_state": "upgraded", "earliest_expiry": "2030-07-01T22:30:00+00:00"}}
    assert said(late_evening) == [("utter_card_expiring_soon", {"expiry_date": "2 juli 2030"})]


def test_the_faqs_choice_only_for_a_card_that_expires_before_the_cut_off():
    before = DATES.expiry_choice_before - dt.timedelta(days=1)
    assert said(old_card(before, "expiring_soon")) == [
        ("utter_card_not_upgraded_choice", {"expiry_date": "29 november 2030"})]
    # Within the agent's 'expiring soon' days, but after the cut-off: no choice, the upgrade.
    on_cut_off = old_card(DATES.expiry_choice_before, "expiring_soon")
    assert said(on_cut_off) == [("utter_card_not_upgraded", {})]
    # Not 'expiring soon' for the agent, but before the cut-off: the choice all the same.
    assert said(old_card(before))[0][0] == "utter_card_not_upgraded_choice"


def test_cards_that_are_not_old_are_never_offered_the_upgrade():
    for state, base in (("upgraded", "upgraded"), ("expiring_soon", "upgraded"),
                        ("eid_level2", "eid_level2"), ("pin_blocked", "not_upgraded"),
                        ("expired", "not_upgraded"), ("no_card", None),
                        ("upgraded_with_old_restored", "upgraded_with_old_restored")):
        answer = {"state": state, "details": {"base_state": base}}
        assert not can_be_upgraded(answer, DATES, TODAY), state


def test_facts_of_an_upgraded_card():
    new = {"base_state": "upgraded", "earliest_expiry": iso(dt.date(2033, 3, 1))}
    profile = "hsa_and_personnummer_pairs"
    complete = {"state": "upgraded", "details": {**new, "certificate_profile": profile}}
    assert said(complete) == [("utter_card_upgraded", {})]
    partial = {"state": "upgraded", "details": {**new, "certificate_profile": "hsa_id_only"}}
    assert said(partial) == [("utter_card_upgraded_incomplete", {})]
    expiring = {"state": "expiring_soon", "details": {**new, "earliest_expiry": iso(
        dt.date(2030, 7, 1))}}
    assert said(expiring) == [("utter_card_expiring_soon", {"expiry_date": "1 juli 2030"})]
    expired = {"state": "expired", "details": {"base_state": "upgraded",
                                               "earliest_expiry": iso(dt.date(2030, 1, 2)),
                                               "latest_expiry": iso(dt.date(2030, 5, 3))}}
    assert said(expired) == [("utter_card_expired", {"expiry_date": "3 maj 2030"})]


def test_blocked_and_last_try_codes_are_named_in_agreement():
    assert role_key(["legitimering"]) == "legitimering"
    assert role_key(["underskrift"]) == "signering"
    assert role_key(["underskrift", "legitimering"]) == "both"
    assert role_key(["okänd"]) == role_key([]) == role_key(["legitimering", "okänd"]) == "unknown"
    blocked = {"state": "pin_blocked", "details": {"base_state": "upgraded",
                                                   "blocked_pins": ["underskrift"]}}
    assert said(blocked) == [("utter_card_pin_blocked_signering", {})]
    last_try = {"state": "upgraded", "details": {"base_state": "upgraded",
                                                 "final_try_pins": ["legitimering", "underskrift"]}}
    assert [r for r, _ in said(last_try)] == ["utter_card_upgraded",
                                              "utter_card_pin_final_try_both"]


def test_what_the_agent_does_not_say_is_not_told_as_if_it_had():
    for odd in ({}, {"state": "melted"}, {"state": None, "details": None},
                {"state": "expired", "details": {}},
                {"state": "expiring_soon", "details": {"base_state": "upgraded"}},
                {"state": "upgraded", "details": {"base_state": "something_new"}}):
        assert said(odd) == [(UNKNOWN_STATE_RESPONSE, {})], odd


@pytest.mark.parametrize("case", card_cases(DATES), ids=lambda c: c.key)
def test_the_chats_card_check_says_what_explain_card_says(agent, monkeypatch, case):
    """The action passes exactly the responses and card values of explain_card (the triage
    script renders the same; tests/triage/test_one_voice.py compares the words)."""
    monkeypatch.setattr(card_check, "today", lambda: case.today)
    monkeypatch.setattr(card_check, "load_site_config", lambda: type("S", (), {"dates": DATES}))
    agent.on("GET", "/v1/card/state", case.answer)
    messages, events = run(ActionCheckCard(), tracker({}, "check_card"))
    expected = [(u.response, dict(u.values)) for u in explain_card(case.answer, DATES, case.today)]
    assert [(m["response"], {k: m[k] for k in ("expiry_date",) if k in m})
            for m in messages] == expected
    assert slot(events, "card_state") == case.answer["state"]
