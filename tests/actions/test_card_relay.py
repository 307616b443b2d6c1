"""Relay mode: a relayed answer counts only for a request the bot issued (one-time
request_id), and no agent page link off the agent's origin is ever shown."""

from __future__ import annotations

import asyncio

from rasa_sdk.executor import CollectingDispatcher

from actions.card_access import RELAY_SLOT
from actions.card_check import ActionCheckCard
from actions.card_puk import ActionOrderPuk
from actions.card_result import ActionCardAgentResult
from actions.card_upgrade import ActionStartUpgrade, ActionUpgradeStatus
from tests.actions.conftest import AGENT, READY, run, slot, tracker

EVIL_PAGE = "http://127.0.0.1:8765.evil.example/pin/j1?t=phish"
JOB = {"job_id": "j1", "status": "waiting_for_pin", "pin_page_url": f"{AGENT}/pin/j1?t=tok",
       "page_opened": False, "progress": 0, "created": True}


def issued(action, slots=None):
    """Run `action` in relay mode: (the request the widget got, the open requests)."""
    messages, events = run(action, tracker(slots or {}, "start_upgrade"))
    requests = [m["custom"]["data"] for m in messages if m.get("custom")]
    assert len(requests) == 1, messages
    return requests[0], slot(events, RELAY_SLOT)


def result(request_id, purpose, body, status=200):
    meta = {"cardagent_result": {"request_id": request_id, "purpose": purpose,
                                 "status": status, "body": body}}
    return meta


def test_each_request_gets_a_fresh_one_time_id_kept_with_its_purpose(relay):
    first, pending = issued(ActionStartUpgrade(), READY)
    assert first["method"] == "POST" and first["path"] == "/v1/upgrade"
    assert len(first["request_id"]) >= 32
    assert pending == {first["request_id"]: "start_upgrade"}
    second, pending2 = issued(ActionCheckCard(), {RELAY_SLOT: pending})
    assert second["request_id"] != first["request_id"]
    assert pending2 == {first["request_id"]: "start_upgrade", second["request_id"]: "check_card"}


def test_the_matching_answer_continues_and_spends_the_id(relay):
    request, pending = issued(ActionStartUpgrade(), READY)
    t = tracker({RELAY_SLOT: pending}, "cardagent_result", "/cardagent_result",
                result(request["request_id"], "start_upgrade", JOB))
    messages, events = run(ActionCardAgentResult(), t)
    assert [m["response"] for m in messages] == ["utter_upgrade_open_pin_page"]
    assert messages[0]["pin_page_url"] == JOB["pin_page_url"]
    assert slot(events, RELAY_SLOT) is None
    assert slot(events, "upgrade_job_id") == "j1"


def test_a_forged_answer_is_ignored(relay):
    request, pending = issued(ActionStartUpgrade(), READY)
    forged_body = {**JOB, "pin_page_url": f"{AGENT}/pin/attacker?t=x"}
    for request_id in (None, "", "guessed-" + "0" * 32, request["request_id"].upper()):
        t = tracker({RELAY_SLOT: pending}, "cardagent_result", "/cardagent_result",
                    result(request_id, "start_upgrade", forged_body))
        messages, events = run(ActionCardAgentResult(), t)
        assert messages == [] and events == [], request_id
    # No open request at all (the bot never asked): ignored too.
    t = tracker({}, "cardagent_result", "/cardagent_result",
                result(request["request_id"], "start_upgrade", forged_body))
    assert run(ActionCardAgentResult(), t) == ([], [])


def test_a_replayed_answer_is_ignored(relay):
    request, pending = issued(ActionStartUpgrade(), READY)
    meta = result(request["request_id"], "start_upgrade", JOB)
    _, events = run(ActionCardAgentResult(),
                    tracker({RELAY_SLOT: pending}, "cardagent_result", "", meta))
    after = slot(events, RELAY_SLOT)
    messages, events = run(ActionCardAgentResult(),
                           tracker({RELAY_SLOT: after}, "cardagent_result", "", meta))
    assert messages == [] and events == []


def test_the_purpose_is_the_bots_not_the_messages(relay):
    # An answer to the bot's card-state request cannot pass as a started upgrade.
    request, pending = issued(ActionCheckCard())
    t = tracker({RELAY_SLOT: pending}, "cardagent_result", "",
                result(request["request_id"], "start_upgrade", JOB))
    messages, events = run(ActionCardAgentResult(), t)
    assert "utter_upgrade_open_pin_page" not in [m.get("response") for m in messages]
    assert slot(events, "upgrade_job_id") == "absent"


def test_a_relayed_pin_page_off_the_agent_origin_is_never_shown(relay):
    for url in (EVIL_PAGE, "http://attacker.example/pin/j1", "http://127.0.0.1:1/pin/j1",
                "http://[::1]:8765/pin/j1", "http://localhost:8765/pin/j1"):
        request, pending = issued(ActionStartUpgrade(), READY)
        t = tracker({RELAY_SLOT: pending}, "cardagent_result", "",
                    result(request["request_id"], "start_upgrade", {**JOB, "pin_page_url": url}))
        messages, _ = run(ActionCardAgentResult(), t)
        assert url not in repr(messages), url
        assert [m["response"] for m in messages] == ["utter_card_agent_error"]


def test_two_requests_in_one_turn_both_stay_open(relay):
    # 'Är det klart?' with an upgrade job and a PUK order: two relayed calls.
    messages, events = run(ActionUpgradeStatus(),
                           tracker({"upgrade_job_id": "j1", "puk_order_id": "o1"}, "job_status"))
    ids = [m["custom"]["data"]["request_id"] for m in messages if m.get("custom")]
    assert len(ids) == 2
    assert set(slot(events, RELAY_SLOT)) == set(ids)


def test_the_relayed_puk_request_only_proposes(relay):
    request, _ = issued(ActionOrderPuk(), {"puk_envelope_searched": True})
    assert (request["method"], request["path"], request["body"]) == ("POST", "/v1/puk-orders", {})


def test_other_channels_get_the_manual_route(relay):
    messages, events = run(ActionCheckCard(), tracker({}, "check_card", channel="rest"))
    assert [m["response"] for m in messages] == ["utter_card_not_reachable_here",
                                                 "utter_upgrade_yourself"]
    assert events == []


def test_teams_never_reaches_for_the_card_in_either_mode(agent, monkeypatch):
    """Teams messages come from Microsoft's cloud: not even a bot in direct mode may call
    an agent for them (it would be the server's own, not the user's)."""
    for mode in ("direct", "relay"):
        monkeypatch.setenv("CARD_AGENT_ACCESS", mode)
        for action, intent in ((ActionCheckCard(), "check_card"),
                               (ActionOrderPuk(), "order_puk")):
            messages, events = run(action, tracker({"puk_envelope_searched": True}, intent,
                                                   channel="teams"))
            assert messages[0]["response"] == "utter_card_not_reachable_here", (mode, messages)
            assert not any(m.get("custom") for m in messages)
            assert not any(e.get("name") == RELAY_SLOT for e in events)
    assert agent.calls == []


def test_the_widgets_wait_label_is_the_domains_words(relay):
    domain = {"responses": {"utter_wait_reading_card": [{"text": "Jag läser ditt kort …"}]}}
    dispatcher = CollectingDispatcher()
    asyncio.run(ActionCheckCard().run(dispatcher, tracker({}, "check_card"), domain))
    request = dispatcher.messages[0]["custom"]["data"]
    assert request["label"] == "Jag läser ditt kort …"
    # Without the domain's words, the widget shows no label rather than a made-up one.
    messages, _ = run(ActionCheckCard(), tracker({}, "check_card"))
    assert messages[0]["custom"]["data"]["label"] == ""


def test_out_of_reach_the_upgrade_instruction_is_named_only_while_it_can_be_done(
        relay, monkeypatch):
    from actions import card_texts

    class Dates:
        def __init__(self, open_: bool) -> None:
            self.open_ = open_

        def upgrade_open(self, today) -> bool:
            return self.open_

    for open_, expected in ((True, ["utter_card_not_reachable_here", "utter_upgrade_yourself"]),
                            (False, ["utter_card_not_reachable_here"])):
        site = type("Site", (), {"dates": Dates(open_)})()
        monkeypatch.setattr(card_texts, "load_site_config", lambda site=site: site)
        messages, _ = run(ActionCheckCard(), tracker({}, "check_card", channel="rest"))
        assert [m["response"] for m in messages] == expected
