"""The upgrade chat stays in step with the agent's PIN page."""

from __future__ import annotations

from actions.card_upgrade import ActionGreet, ActionStartUpgrade, ActionUpgradeStatus
from tests.actions.conftest import AGENT, run, slot, tracker

PAGE = f"{AGENT}/pin/j1?t=one-time"
JOB = {"job_id": "j1", "status": "waiting_for_pin", "pin_page_url": PAGE, "page_opened": False,
       "progress": 0, "message": "", "error_code": None}


def status(agent, job, intent="job_status"):
    agent.on("GET", "/v1/jobs/j1", job)
    return run(ActionUpgradeStatus(), tracker({"upgrade_job_id": "j1"}, intent))


def test_start_links_the_pin_page(agent):
    agent.on("POST", "/v1/upgrade", {**JOB, "created": True})
    messages, events = run(ActionStartUpgrade(), tracker({"upgrade_has_codes": True}))
    assert messages == [{**messages[0], "response": "utter_upgrade_started", "pin_page_url": PAGE}]
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
    assert messages[0]["response"] == "utter_upgrade_wrong_pin"


def test_when_the_page_fails_the_chat_says_what_happened(agent):
    cases = [
        ({"status": "rolled_back", "error_code": "enrollment_unavailable"},
         "utter_upgrade_failed_enrollment"),
        ({"status": "failed", "error_code": "pin_blocked"}, "utter_upgrade_failed_pin_blocked"),
        ({"status": "cancelled", "error_code": "pin_page_expired"}, "utter_upgrade_page_expired"),
        ({"status": "cancelled", "error_code": None}, "utter_upgrade_cancelled"),
        ({"status": "succeeded"}, "utter_upgrade_done"),
    ]
    for change, response in cases:
        messages, events = status(agent, {**JOB, **change, "pin_page_url": None})
        assert [m["response"] for m in messages] == [response], change
        assert slot(events, "upgrade_job_id") is None
    messages, _ = status(agent, {**JOB, "status": "rolled_back", "error_code": "token_error",
                                 "message": "Kortet gav ett [oväntat](http://x) fel.",
                                 "pin_page_url": None})
    assert messages[0]["response"] == "utter_upgrade_failed_with_reason"
    assert messages[0]["agent_message"] == "Kortet gav ett oväntathttp://x fel."


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
        messages, _ = run(ActionStartUpgrade(), tracker({"upgrade_has_codes": True}))
        assert url not in repr(messages)


def test_coming_back_to_the_chat_tells_where_the_upgrade_stands(agent):
    agent.on("GET", "/v1/jobs/j1", {**JOB, "page_opened": True, "pin_page_url": f"{AGENT}/pin/j1"})
    messages, _ = run(ActionGreet(), tracker({"upgrade_job_id": "j1"}, "greet"))
    assert [m["response"] for m in messages] == ["utter_greet", "utter_upgrade_page_opened_waiting"]
    messages, _ = run(ActionGreet(), tracker({}, "greet"))
    assert [m["response"] for m in messages] == ["utter_greet"]
    assert agent.calls == [("GET", "/v1/jobs/j1", None)]
