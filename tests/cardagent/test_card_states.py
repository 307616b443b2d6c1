"""GET /v1/card/state on the real stack: pcscd + vpcd emulator + SoftHSM2 tokens."""

from __future__ import annotations

import time

import pytest

from devtools.cards import PROFILES
from tests.cardagent.conftest import TEST_READER, assert_no_personnummer
from tests.cardagent.test_facts_only import prose

pytestmark = pytest.mark.stack
STATE_CARDS = [name for name, p in PROFILES.items() if not p.expected_state.startswith("error:")]


@pytest.mark.parametrize("name", STATE_CARDS)
def test_fixture_card_state(client, card_slot, name: str) -> None:
    card_slot.insert(name)
    r = client.get("/v1/card/state")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["state"] == PROFILES[name].expected_state
    assert set(body) == {"state", "details", "warnings", "checked_at", "read_ms"}
    assert prose(body) == []  # facts only, read from a real token
    assert body["details"]["card"]["reader"] == TEST_READER
    assert len(body["details"]["tokens"]) == 2  # Net iD: one token per PIN
    assert_no_personnummer(r.text)


def _state(client) -> dict:
    r = client.get("/v1/card/state")
    assert r.status_code == 200, r.text
    return r.json()


def test_upgraded_details(client, card_slot) -> None:
    card_slot.insert("upgraded")
    body = _state(client)
    d = body["details"]
    assert d["assurance_level"] == 3
    assert d["has_hsa_id"] and d["has_personnummer"]
    assert d["certificate_profile"] == "hsa_and_personnummer_pairs"
    assert d["card"]["serial"] == PROFILES["upgraded"].card_serial
    certs = [c for t in d["tokens"] for c in t["certificates"]]
    assert len(certs) == 4
    kinds = sorted((c["identifier"]["kind"], c["purpose"]) for c in certs)
    assert kinds == [
        ("hsa_id", "authentication"),
        ("hsa_id", "signature"),
        ("personnummer", "authentication"),
        ("personnummer", "signature"),
    ]
    pnr = next(c for c in certs if c["identifier"]["kind"] == "personnummer")
    assert pnr["identifier"] == {"kind": "personnummer", "value": "19121212-****", "valid": True}
    assert "serialNumber=19121212-****" in pnr["subject"]
    assert pnr["issuer"].startswith("CN=TEST SITHS e-id Person ID 3 CA v1")
    hsa = next(
        c for c in certs if c["identifier"]["kind"] == "hsa_id" and c["purpose"] == "authentication"
    )
    assert hsa["identifier"]["value"] == "SE1234567890-TEST0000001"
    assert set(hsa["extended_key_usage"]) == {"client_auth", "smartcard_logon"}
    assert "digital_signature" in hsa["key_usage"]
    sig = next(c for c in certs if c["purpose"] == "signature")
    assert sig["key_usage"] == ["non_repudiation"]
    assert sig["token_label"] == "SITHS e-id kort (Underskrift)"
    assert all(t["pin"]["status"] == "ok" and t["pin"]["retries_left"] == 3 for t in d["tokens"])


def test_restored_has_six_certificates(client, card_slot) -> None:
    card_slot.insert("restored")
    body = _state(client)
    assert body["details"]["certificate_count"] == 6
    families = sorted(c["ca_family"] for t in body["details"]["tokens"] for c in t["certificates"])
    assert families.count("siths_legacy") == 2 and families.count("siths_eid") == 4
    assert body["details"]["base_state"] == "upgraded_with_old_restored"


def test_not_upgraded_facts(client, card_slot) -> None:
    card_slot.insert("old")
    body = _state(client)
    assert body["state"] == "not_upgraded" and body["details"]["base_state"] == "not_upgraded"
    assert body["details"]["assurance_level"] is None
    assert body["details"]["certificate_profile"] == "hsa_id_only"
    assert body["details"]["latest_expiry"] == body["details"]["earliest_expiry"]


def test_replacement_samordningsnummer(client, card_slot) -> None:
    card_slot.insert("replacement_samordning")
    body = _state(client)
    assert body["state"] == "eid_level2"
    assert body["details"]["assurance_level"] == 2
    assert body["details"]["has_samordningsnummer"]
    ids = [c["identifier"] for t in body["details"]["tokens"] for c in t["certificates"]]
    sam = [i for i in ids if i["kind"] == "samordningsnummer"]
    assert sam and all(i["valid"] and i["value"] == "19120461-****" for i in sam)


def test_authonly_profile(client, card_slot) -> None:
    card_slot.insert("authonly")
    body = _state(client)
    assert body["state"] == "upgraded"
    assert body["details"]["certificate_profile"] == "authentication_only"


def test_expiring_soon_is_a_fact(client, card_slot) -> None:
    card_slot.insert("expiring")
    body = _state(client)
    assert body["state"] == "expiring_soon"
    assert body["details"]["base_state"] == "upgraded"
    assert body["details"]["days_left"] == 20
    # a shorter warning window turns it back into the plain state
    r = client.get("/v1/card/state", params={"expiry_warning_days": 10})
    assert r.json()["state"] == "upgraded"


def test_expiring_old_card_says_both_facts(client, card_slot) -> None:
    """Expiring and not upgraded: the bot decides from these facts and its site dates."""
    card_slot.insert("expiring_old")
    body = _state(client)
    assert body["state"] == "expiring_soon"
    assert body["details"]["base_state"] == "not_upgraded"
    assert body["details"]["days_left"] == 20


def test_expired_says_when(client, card_slot) -> None:
    card_slot.insert("expired")
    body = _state(client)
    assert body["state"] == "expired" and body["details"]["base_state"] == "upgraded"
    assert body["details"]["days_left"] == -30
    assert body["details"]["latest_expiry"] == body["details"]["earliest_expiry"]


def test_blocked_pin_names_the_pin(client, card_slot) -> None:
    card_slot.insert("blocked")
    body = _state(client)
    assert body["details"]["blocked_pins"] == ["legitimering"]
    tok = {t["pin"]["role"]: t["pin"] for t in body["details"]["tokens"]}
    assert tok["legitimering"]["status"] == "locked"
    assert "pcsc_probe" in tok["legitimering"]["sources"]
    assert tok["underskrift"]["status"] == "ok"
    assert tok["legitimering"]["retries_left"] == 0


def test_signature_pin_blocked(client, card_slot) -> None:
    card = card_slot.insert("upgraded")
    card.applet.card["pins"]["130"]["tries_left"] = 0  # ref 0x82 = underskrift
    body = _state(client)
    assert body["state"] == "pin_blocked"
    assert body["details"]["blocked_pins"] == ["underskrift"]


def test_final_try_warning(client, card_slot) -> None:
    card_slot.insert("finaltry")
    body = _state(client)
    assert body["details"]["final_try_pins"] == ["legitimering"]
    assert body["warnings"] == ["pin_final_try"]


def test_wrong_pin_over_pcsc_changes_state(client, card_slot) -> None:
    """Three wrong VERIFYs through PC/SC (as a user at the PIN prompt) block the PIN."""
    from cardagent.pcsc import connect
    from devtools.emulator import TEST_APPLET_AID

    card_slot.insert("upgraded")
    with connect(TEST_READER) as card:
        aid = bytes.fromhex(TEST_APPLET_AID)
        assert card.transmit(bytes([0, 0xA4, 4, 0, len(aid)]) + aid)[1] == 0x9000
        sws = [card.transmit(bytes([0, 0x20, 0, 0x81, 6]) + b"000000")[1] for _ in range(2)]
        assert sws == [0x63C2, 0x63C1]
        assert _state(client)["warnings"][0] == "pin_final_try"
        assert card.transmit(bytes([0, 0x20, 0, 0x81, 6]) + b"000000")[1] == 0x6983
    assert _state(client)["state"] == "pin_blocked"


def test_garbage_token_is_clear_error(client, card_slot) -> None:
    card_slot.insert("garbage")
    r = client.get("/v1/card/state")
    assert r.status_code == 502
    assert r.json()["error"] == "token_bad_data"
    assert "Garbage certificate" in r.json()["detail"]


def test_removal_seen_within_two_seconds(client, card_slot) -> None:
    card_slot.insert("upgraded")
    assert _state(client)["state"] == "upgraded"
    card_slot.reader.remove()
    started = time.monotonic()
    seen = []
    while True:
        r = client.get("/v1/card/state")
        # While pcscd catches up a read may notice the card leaving: a 409 card_removed.
        state = r.json()["state"] if r.status_code == 200 else r.json()["error"]
        seen.append(state)
        if state == "no_card":
            break
        assert state in ("upgraded", "card_removed"), seen
        assert time.monotonic() - started < 2.0, f"still {state} after 2 s"
        time.sleep(0.05)
    # and inserting again is seen without restarting anything
    card_slot.insert("old")
    assert _state(client)["state"] == "not_upgraded"


def test_no_card(client, card_slot) -> None:
    card_slot.remove()
    body = _state(client)
    assert body["state"] == "no_card"
    assert body["details"]["readers"] == [{"name": TEST_READER, "card_present": False, "atr": None}]


def test_no_reader(app, agent_settings, pcscd_service) -> None:
    from fastapi.testclient import TestClient

    from cardagent.api import create_app
    from tests.cardagent.conftest import BASE_URL, TEST_TOKEN

    other = create_app(agent_settings.with_overrides(reader_filter="No Such Reader"))
    with TestClient(
        other, base_url=BASE_URL, headers={"Authorization": f"Bearer {TEST_TOKEN}"}
    ) as c:
        body = c.get("/v1/card/state").json()
    assert body["state"] == "no_reader"
    assert body["details"]["readers"] == []


def test_card_removed_during_read(client, card_slot) -> None:
    card = card_slot.insert("upgraded")
    card.remove_after_apdus = 2  # answers SELECT, vanishes on the next APDU
    r = client.get("/v1/card/state")
    assert r.status_code == 409, r.text
    assert r.json()["error"] == "card_removed"
    card_slot.remove()


def test_readers_endpoint(client, card_slot) -> None:
    card_slot.insert("upgraded")
    r = client.get("/v1/readers")
    assert r.status_code == 200
    (reader,) = r.json()["readers"]
    assert reader["name"] == TEST_READER and reader["card_present"]
    assert reader["atr"].startswith("3B 8A 80 01")


def test_tokens_endpoint(client, card_slot) -> None:
    card_slot.insert("restored")
    r = client.get("/v1/card/tokens")
    assert r.status_code == 200
    labels = sorted(t["label"] for t in r.json()["tokens"])
    assert labels == ["SITHS e-id kort (Legitimering)", "SITHS e-id kort (Underskrift)"]
    assert_no_personnummer(r.text)
