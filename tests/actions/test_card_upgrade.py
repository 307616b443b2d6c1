"""The upgrade chat stays in step with the agent's PIN page."""

from __future__ import annotations

import asyncio

from rasa_sdk.executor import CollectingDispatcher

from actions.agent_client import CardAgentError
from actions.card_upgrade import (
    ActionGreet,
    ActionStartUpgrade,
    ActionUpgradeStatus,
    ValidateUpgradeForm,
)
from tests.actions.conftest import AGENT, READY, run, slot, tracker

PAGE = f"{AGENT}/pin/j1?t=one-time"
JOB = {"job_id": "j1", "status": "waiting_for_pin", "pin_page_url": PAGE, "page_opened": False,
       "progress": 0, "error_code": None}


def status(agent, job, intent="job_status"):
    agent.on("GET", "/v1/jobs/j1", job)
    return run(ActionUpgradeStatus(), tracker({"upgrade_job_id": "j1"}, intent))


def test_start_links_the_pin_page(agent):
    agent.on("POST", "/v1/upgrade", {**JOB, "created": True})
    messages, events = run(ActionStartUpgrade(), tracker(READY))
    assert messages == [
        {**messages[0], "response": "utter_upgrade_open_pin_page", "pin_page_url": PAGE}
    ]
    assert slot(events, "upgrade_job_id") == "j1"


def test_while_the_page_waits_the_chat_says_so(agent):
    messages, _ = status(agent, JOB)
    assert messages[0]["response"] == "utter_upgrade_waiting_for_pin"
    assert messages[0]["pin_page_url"] == PAGE
    opened = {**JOB, "page_opened": True, "pin_page_url": f"{AGENT}/pin/j1"}
    messages, _ = status(agent, opened)
    assert messages[0]["response"] == "utter_upgrade_page_opened_waiting"
    assert messages[0]["pin_page_url"] == f"{AGENT}/pin/j1"
    # Started again: the agent issued a new link (with a token), any browser opens it.
    messages, _ = status(agent, {**opened, "pin_page_url": PAGE})
    assert messages[0]["response"] == "utter_upgrade_waiting_for_pin"
    messages, _ = status(agent, {**opened, "error_code": "wrong_pin"})
    assert messages[0]["response"] == "utter_upgrade_wrong_pin_unknown"


def test_a_wrong_code_is_named_with_the_tries_it_has_left(agent):
    cases = [
        ({"error_role": "legitimering", "retries_left": 2},
         "utter_upgrade_wrong_pin_legitimering", {"retries_left": 2}),
        ({"error_role": "underskrift", "retries_left": 1},
         "utter_upgrade_wrong_pin_signering", {"retries_left": 1}),
        ({"error_role": None, "retries_left": 2}, "utter_upgrade_wrong_pin_unknown", {}),
        ({"error_role": "underskrift", "retries_left": None},
         "utter_upgrade_wrong_pin_unknown", {}),
        ({"error_role": "legitimering", "retries_left": True},
         "utter_upgrade_wrong_pin_unknown", {}),
        ({"error_code": "pin_final_try", "error_role": "underskrift", "retries_left": 1},
         "utter_upgrade_final_try_signering", {}),
        ({"error_code": "pin_final_try", "error_role": None, "retries_left": 1},
         "utter_upgrade_final_try_unknown", {}),
    ]
    for change, response, values in cases:
        messages, _ = status(agent, {**JOB, "error_code": "wrong_pin", **change})
        assert messages[0]["response"] == response, change
        assert {k: messages[0][k] for k in values} == values
        assert ("retries_left" in messages[0]) == bool(values), change


def test_when_the_page_fails_the_chat_says_what_happened(agent):
    cases = [
        ({"status": "rolled_back", "error_code": "enrollment_unavailable"},
         "utter_upgrade_failed_enrollment"),
        ({"status": "failed", "error_code": "enrollment_rejected"},
         "utter_upgrade_failed_rejected"),
        ({"status": "rolled_back", "error_code": "certificate_check_failed"},
         "utter_upgrade_failed_check"),
        ({"status": "failed", "error_code": "pin_blocked"}, "utter_upgrade_failed_pin_blocked"),
        ({"status": "rolled_back", "error_code": "token_error"}, "utter_upgrade_failed_card_error"),
        ({"status": "failed", "error_code": "card_object_unidentified"},
         "utter_upgrade_failed_unidentified"),
        ({"status": "cancelled", "error_code": None}, "utter_upgrade_cancelled"),
        ({"status": "failed", "error_code": "something_new"}, "utter_upgrade_failed"),
        ({"status": "succeeded"}, "utter_upgrade_done"),
    ]
    for change, response in cases:
        messages, events = status(agent, {**JOB, **change, "pin_page_url": None})
        assert [m["response"] for m in messages] == [response], change
        assert slot(events, "upgrade_job_id") is None
        assert slot(events, "upgrade_result") == change["status"]


def test_asked_again_after_a_finished_upgrade_the_chat_says_it_is_done():
    messages, _ = run(ActionUpgradeStatus(), tracker({"upgrade_result": "succeeded"}, "job_status"))
    assert [m["response"] for m in messages] == ["utter_upgrade_already_done"]
    messages, _ = run(ActionUpgradeStatus(), tracker({"upgrade_result": "failed"}, "job_status"))
    assert [m["response"] for m in messages] == ["utter_no_upgrade_job"]
    messages, _ = run(ActionUpgradeStatus(), tracker({}, "job_status"))
    assert [m["response"] for m in messages] == ["utter_no_upgrade_job"]


def test_the_form_answers_decide_whether_anything_starts(agent):
    agent.on("POST", "/v1/upgrade", {**JOB, "created": True})
    reservkort = {"upgrade_card_is_ordinary": False, "upgrade_has_codes": None}
    messages, events = run(ActionStartUpgrade(), tracker(reservkort))
    assert [m["response"] for m in messages] == ["utter_upgrade_reservkort"]
    no_codes = {"upgrade_card_is_ordinary": True, "upgrade_has_codes": False}
    messages, events = run(ActionStartUpgrade(), tracker(no_codes))
    assert [m["response"] for m in messages] == ["utter_upgrade_find_codes"]
    assert agent.calls == []  # nothing was asked of the card
    assert slot(events, "upgrade_card_is_ordinary") is None
    messages, _ = run(ActionStartUpgrade(), tracker(READY))
    assert [m["response"] for m in messages] == ["utter_upgrade_open_pin_page"]
    assert agent.calls == [("POST", "/v1/upgrade", {})]


def test_a_reservkort_ends_the_form_without_asking_for_codes():
    form = ValidateUpgradeForm()
    slots = ["upgrade_card_is_ordinary", "upgrade_has_codes"]
    asked = asyncio.run(form.required_slots(
        slots, CollectingDispatcher(), tracker({"upgrade_card_is_ordinary": False}), {}))
    assert asked == ["upgrade_card_is_ordinary"]
    for answer in (True, None):
        asked = asyncio.run(form.required_slots(
            slots, CollectingDispatcher(), tracker({"upgrade_card_is_ordinary": answer}), {}))
        assert asked == slots


def test_every_start_refusal_has_its_own_answer(agent):
    refusals = {
        "not_upgradable": "utter_upgrade_refused",
        "pin_blocked": "utter_upgrade_failed_pin_blocked",
        "no_card": "utter_card_no_card",
        "not_a_siths_card": "utter_card_not_a_siths_card",
        "enrollment_not_configured": "utter_upgrade_unavailable",
        "missing_pin_token": "utter_upgrade_card_not_supported",
        "old_without_hsa_id": "utter_upgrade_card_not_supported",
    }
    for code, response in refusals.items():
        agent.on("POST", "/v1/upgrade", CardAgentError(code, 409))
        messages, _ = run(ActionStartUpgrade(), tracker(READY))
        assert [m["response"] for m in messages] == [response], code


def test_the_check_back_speaks_only_when_the_job_ended(agent):
    messages, events = status(agent, JOB, intent="EXTERNAL_upgrade_check")
    assert messages == [] and any(e["event"] == "reminder" for e in events)
    messages, _ = status(agent, {**JOB, "status": "rolled_back",
                                 "error_code": "enrollment_unavailable"},
                         intent="EXTERNAL_upgrade_check")
    assert [m["response"] for m in messages] == ["utter_upgrade_failed_enrollment"]


def test_a_pin_page_off_the_agent_origin_is_never_shown(agent):
    for url in ("http://evil.example/pin/j1", "http://127.0.0.1:8766/pin/j1", "file:///etc/x"):
        messages, _ = status(agent, {**JOB, "pin_page_url": url})
        assert url not in repr(messages)
        assert [m["response"] for m in messages] == ["utter_card_agent_error"]
        agent.on("POST", "/v1/upgrade", {**JOB, "created": True, "pin_page_url": url})
        messages, _ = run(ActionStartUpgrade(), tracker(READY))
        assert url not in repr(messages)


def test_coming_back_to_the_chat_tells_where_the_upgrade_stands(agent):
    agent.on("GET", "/v1/jobs/j1", {**JOB, "page_opened": True, "pin_page_url": f"{AGENT}/pin/j1"})
    messages, _ = run(ActionGreet(), tracker({"upgrade_job_id": "j1"}, "greet"))
    assert [m["response"] for m in messages] == ["utter_greet", "utter_upgrade_page_opened_waiting"]
    messages, _ = run(ActionGreet(), tracker({}, "greet"))
    assert [m["response"] for m in messages] == ["utter_greet"]
    assert agent.calls == [("GET", "/v1/jobs/j1", None)]


def test_an_unreachable_card_program_names_the_instruction_only_before_the_last_day(
        agent, monkeypatch):
    from actions import card_texts
    from actions.agent_client import AGENT_UNREACHABLE

    agent.on("POST", "/v1/upgrade", CardAgentError(AGENT_UNREACHABLE))
    for open_, expected in ((True, ["utter_card_agent_unreachable", "utter_upgrade_yourself"]),
                            (False, ["utter_card_agent_unreachable"])):
        dates = type("D", (), {"upgrade_open": lambda self, today, o=open_: o})()
        monkeypatch.setattr(card_texts, "load_site_config",
                            lambda d=dates: type("S", (), {"dates": d})())
        messages, _ = run(ActionStartUpgrade(), tracker(READY))
        assert [m["response"] for m in messages] == expected
