"""The agent's JSON is facts only: no Swedish prose in any answer (unit tier).

Every card, every refusal, jobs with each kind of error, PUK orders and the error bodies go
through the real app on the in-memory card (memcard.py); the check walks every string value
of every answer. Card data (names, labels, subjects, issuers, reader names, organisation, an
order system's reference) is the card's or the receiver's own text and is skipped; anything
else that reads as Swedish fails. The bot words every code (domain.yml); the agent's own
pages word theirs in their templates (test_page_words.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cardagent.classify import STATES, WARNINGS
from cardagent.orders.errors import REFUSALS as ORDER_REFUSALS
from cardagent.upgrade import JobStatus
from cardagent.upgrade.errors import REFUSALS as UPGRADE_REFUSALS
from devtools.cards import PROFILES
from devtools.pki import TestPKI
from tests.cardagent.memcard import MemoryCardService, memory_app, memory_settings

BASE = "http://127.0.0.1:8765"
ORIGIN = "https://chat.example.test"
CARDS = [n for n, p in PROFILES.items() if not p.expected_state.startswith("error:")]

# Swedish letters, or a common Swedish word, in a string value.
SWEDISH = re.compile(
    r"[åäöÅÄÖ]|\b(?:och|att|inte|kan|har|du|din|ditt|dina|kortet|koden|koderna|kontakta|"
    r"sidan|sätt|ta|ett|en|det|finns|behöver|igen)\b",
    re.IGNORECASE,
)
# The card's (or the order system's) own text: shown as it is, never written by the agent.
CARD_DATA = {
    "name",
    "label",
    "token_label",
    "subject",
    "issuer",
    "reader",
    "organisation",
    "manufacturer",
    "model",
    "receiver_reference",
}


def prose(value: Any, path: str = "$") -> list[str]:
    """Where in a JSON value there is text that reads as Swedish (card data skipped)."""
    if isinstance(value, dict):
        return [
            hit
            for key, item in value.items()
            if key not in CARD_DATA
            for hit in prose(item, f"{path}.{key}")
        ]
    if isinstance(value, list):
        return [hit for i, item in enumerate(value) for hit in prose(item, f"{path}[{i}]")]
    if isinstance(value, str) and SWEDISH.search(value):
        return [f"{path}: {value[:60]!r}"]
    return []


def test_the_check_finds_swedish_and_skips_card_data() -> None:
    assert prose({"message": "Kortet är spärrat."}) == ["$.message: 'Kortet är spärrat.'"]
    assert prose({"next_step": {"text": "Kontakta Servicecenter"}}) != []  # no å/ä/ö needed
    assert prose({"warnings": [{"code": "pin_final_try", "text": "Sista försöket"}]}) != []
    assert prose({"details": {"tokens": [{"label": "SITHS kort (Legitimering)"}]}}) == []
    facts = {
        "error": "wrong_pin",
        "error_role": "underskrift",
        "blocked_pins": ["legitimering"],
        "message": "A PIN was wrong.",
    }
    assert prose(facts) == []


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPKI:
    return TestPKI(tmp_path_factory.mktemp("memory-pki"))


@pytest.fixture()
def agent(pki: TestPKI, tmp_path: Path) -> Iterator[tuple[TestClient, MemoryCardService]]:
    settings = memory_settings(
        tmp_path / "data",
        allowed_origins=(ORIGIN,),
        upgrade={"est_url": "https://est.example.test/.well-known/est"},
    )
    with memory_app(settings, pki, BASE) as pair:
        yield pair


def facts_only(body: Any) -> Any:
    assert prose(body) == [], prose(body)
    return body


@pytest.mark.parametrize("name", CARDS)
def test_card_state_is_facts(agent, name: str) -> None:  # noqa: ANN001
    client, card = agent
    card.insert(name)
    body = facts_only(client.get("/v1/card/state").json())
    assert set(body) == {"state", "details", "warnings", "checked_at", "read_ms"}
    assert body["state"] == PROFILES[name].expected_state and body["state"] in STATES
    assert set(body["warnings"]) <= set(WARNINGS)
    details = body["details"]
    if body["state"] != "not_a_siths_card":
        assert details["base_state"] in STATES and details["latest_expiry"]
        assert details["earliest_expiry"] <= details["latest_expiry"]
    tokens = facts_only(client.get("/v1/card/tokens").json())
    assert len(tokens["tokens"]) == 2


def test_states_without_a_card_are_facts(agent) -> None:  # noqa: ANN001
    client, card = agent
    card.remove()
    assert facts_only(client.get("/v1/card/state").json())["state"] == "no_card"
    card.has_reader = False
    body = facts_only(client.get("/v1/card/state").json())
    assert body["state"] == "no_reader" and body["warnings"] == []
    facts_only(client.get("/v1/readers").json())
    facts_only(client.get("/v1/agent").json())


def test_level2_card_is_its_own_state(agent) -> None:  # noqa: ANN001
    """A level-2 e-id card is eid_level2 (not a reservkort: that word is for a card with the
    old certificates), with the facts the bot needs."""
    client, card = agent
    card.insert("replacement")
    body = client.get("/v1/card/state").json()
    assert body["state"] == "eid_level2" and body["details"]["assurance_level"] == 2
    assert body["details"]["has_hsa_id"] and body["details"]["has_personnummer"]


@pytest.mark.parametrize("name", CARDS)
def test_upgrade_answers_are_codes(agent, name: str) -> None:  # noqa: ANN001
    client, card = agent
    card.insert(name)
    r = client.post("/v1/upgrade", json={})
    body = facts_only(r.json())
    if r.status_code == 201:
        assert name in ("old", "oldv3", "expiring_old")
        assert body["status"] == "waiting_for_pin" and body["error_code"] is None
        assert "message" not in body and "step_title" not in body
        assert body["error_role"] is None and body["retries_left"] is None
        assert all(set(s) == {"name", "status"} for s in body["steps"])
        return
    assert r.status_code == 409 and body["error"] in UPGRADE_REFUSALS
    assert body["message"] == UPGRADE_REFUSALS[body["error"]]
    if body["error"] == "not_upgradable":
        assert body["card_state"] == PROFILES[name].expected_state
    if body["error"] == "pin_blocked":
        assert body["blocked_pins"] == ["legitimering"] and body["error_role"] == "legitimering"


def test_upgrade_refused_without_an_enrollment_service(pki: TestPKI, tmp_path: Path) -> None:
    with memory_app(memory_settings(tmp_path / "data"), pki, BASE) as (c, service):
        service.insert("old")
        r = c.post("/v1/upgrade", json={})
    assert r.status_code == 503
    assert facts_only(r.json())["error"] == "enrollment_not_configured"


def test_job_errors_name_the_code_and_its_tries(agent) -> None:  # noqa: ANN001
    client, card = agent
    card.insert("old")
    job = client.post("/v1/upgrade", json={}).json()
    jobs = client.app.state.upgrades.jobs
    url = f"/v1/jobs/{job['job_id']}"

    jobs.to_waiting(job["job_id"], "wrong_pin", "underskrift", 2)
    body = facts_only(client.get(url).json())
    assert (body["status"], body["error_code"]) == ("waiting_for_pin", "wrong_pin")
    assert (body["error_role"], body["retries_left"]) == ("underskrift", 2)

    jobs.to_waiting(job["job_id"], "pin_final_try", "legitimering", 1)
    body = facts_only(client.get(url).json())
    assert (body["error_role"], body["retries_left"]) == ("legitimering", 1)

    jobs.to_waiting(job["job_id"], "card_removed")
    body = facts_only(client.get(url).json())
    assert body["error_code"] == "card_removed"
    assert body["error_role"] is None and body["retries_left"] is None

    jobs.finish(job["job_id"], JobStatus.FAILED, "pin_blocked", "legitimering", 0)
    body = facts_only(client.get(url).json())
    assert (body["status"], body["error_code"]) == ("failed", "pin_blocked")
    assert (body["error_role"], body["retries_left"]) == ("legitimering", 0)
    assert body["pin_page_url"] is None


def test_orders_are_facts(agent) -> None:  # noqa: ANN001
    client, card = agent
    card.insert("old")
    r = client.post("/v1/puk-orders", json={})
    order = facts_only(r.json())
    assert r.status_code == 201 and order["status"] == "awaiting_confirmation"
    assert order["cost_sek"] == 200
    assert "message" not in order and "cost_note" not in order
    assert order["card"]["hsa_id"] == PROFILES["old"].hsa_id
    client.app.state.orders.confirm(order["order_id"])
    placed = facts_only(client.get(f"/v1/puk-orders/{order['order_id']}").json())
    assert placed["status"] == "queued" and placed["error_code"] is None
    for name, code in (("unknown", "not_a_siths_card"), ("blank", "not_a_siths_card")):
        card.insert(name)
        body = facts_only(client.post("/v1/puk-orders", json={}).json())
        assert body["error"] == code and body["message"] == ORDER_REFUSALS[code]
    card.remove()
    assert facts_only(client.post("/v1/puk-orders", json={}).json())["error"] == "no_card"


def test_error_bodies_are_codes_with_english(agent) -> None:  # noqa: ANN001
    client, card = agent
    card.insert("upgraded")
    answers = [
        client.get("/v1/card/state", headers={"Authorization": "Bearer wrong"}),
        client.get("/v1/card/state", headers={"Origin": "https://evil.example.test"}),
        client.get("/v1/card/state", headers={"Host": "evil.example.test"}),
        client.get("/v1/jobs/0123456789abcdef"),
        client.get("/v1/puk-orders/0123456789abcdef"),
        client.get("/v1/card/state?expiry_warning_days=-1"),
        client.post("/v1/upgrade", json={"pin": "123456"}),
        client.get("/v1/nope"),
        client.post("/v1/card/state"),
    ]
    codes = []
    for r in answers:
        body = facts_only(r.json())
        assert r.status_code >= 400 and body["message"].isascii(), r.text
        codes.append(body["error"])
    assert codes == [
        "unauthorized",
        "origin_not_allowed",
        "host_not_allowed",
        "job_not_found",
        "order_not_found",
        "invalid_request",
        "invalid_request",
        "not_found",
        "method_not_allowed",
    ]


def test_openapi_document_is_english(agent) -> None:  # noqa: ANN001
    client, _card = agent
    doc = client.get("/openapi.json").json()
    assert prose(doc) == []
    state = doc["components"]["schemas"]["CardStateOut"]["properties"]
    assert set(state) == {"state", "details", "warnings", "checked_at", "read_ms"}
    job = doc["components"]["schemas"]["JobOut"]["properties"]
    assert "message" not in job and {"error_role", "retries_left"} <= set(job)
