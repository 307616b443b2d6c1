"""Upgrade jobs on the real stack: SoftHSM2 card + vpcd emulator + the EST test CA over HTTPS.

Each test provisions a fresh old card, runs its own agent app (own data folder) and checks
the card afterwards through PKCS#11: which certificates, which keys, chains to the test PKI.
"""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import pytest
from cryptography import x509
from fastapi.testclient import TestClient

from cardagent import pcsc
from cardagent.api import create_app
from cardagent.cardwriter import CardWriter, modulus_hash
from cardagent.pkcs11_reader import Pkcs11Reader
from devtools import pki as pkimod
from devtools.cards import DEMO_PIN_LEGITIMERING, DEMO_PIN_UNDERSKRIFT
from devtools.pki import TestPKI
from devtools.softhsm import ProvisionedCard
from tests.cardagent.conftest import (
    BASE_URL,
    TEST_READER,
    TEST_TOKEN,
    assert_no_personnummer,
    in_process_peer,
    write_settings,
)

PINS = {"pin_legitimering": DEMO_PIN_LEGITIMERING, "pin_underskrift": DEMO_PIN_UNDERSKRIFT}
OWN_ORIGIN = "http://127.0.0.1:8765"
# The headers Chromium sends with a form POST from the agent's own page (Referrer-Policy
# same-origin). The browser itself is driven end to end in tests/security/test_agent_pages.py;
# these in-process tests exercise the job logic behind the page.
BROWSER_POST = {"Origin": OWN_ORIGIN, "Sec-Fetch-Site": "same-origin"}

pytestmark = pytest.mark.stack


def _replace(obj, **changes):  # noqa: ANN001, ANN202 - a settings object, dataclass or pydantic
    if hasattr(obj, "model_copy"):
        return obj.model_copy(update=changes)
    from dataclasses import replace

    return replace(obj, **changes)


@pytest.fixture()
def make_agent(agent_settings, est_server, tls_files, trust_anchors, tmp_path, pcscd_service):
    """An agent app with its own data folder, configured for the EST test CA;
    ``card_wait_s``: how long a job waits for a pulled card."""
    clients: list[TestClient] = []

    def make(anchors: bool = True, card_wait_s: float | None = None) -> TestClient:
        settings = write_settings(
            agent_settings,
            tmp_path / f"agent{len(clients)}",
            est_server[1],
            tls_files,
            trust_anchors if anchors else None,
            None,
        )
        if card_wait_s is not None:
            upgrade = _replace(settings.upgrade, card_wait_s=card_wait_s)
            settings = _replace(settings, upgrade=upgrade)
        client = TestClient(
            create_app(settings, peer_check=in_process_peer),
            base_url=BASE_URL,
            headers={"Authorization": f"Bearer {TEST_TOKEN}"},
        )
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for c in clients:
        c.__exit__(None, None, None)


def start_job(client: TestClient) -> dict:
    r = client.post("/v1/upgrade", json={})
    assert r.status_code == 201, r.text
    job = r.json()
    assert job["status"] == "waiting_for_pin"
    assert job["pin_page_url"].startswith("http://127.0.0.1:")
    return job


def local_path(url: str) -> str:
    return "/" + url.split("/", 3)[3]


def open_page(client: TestClient, job: dict):
    """Open the job's pin_page_url like a browser: the one-time link is exchanged for the page
    session cookie (303 to the token-less URL), which this client keeps."""
    page = client.get(local_path(job["pin_page_url"]))
    assert page.status_code == 200, page.text
    return page


def csrf_of(page_text: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page_text).group(1)


def post_page(client: TestClient, job_id: str, data: dict, headers: dict | None = None):
    return client.post(
        f"/pin/{job_id}",
        data=data,
        headers=BROWSER_POST if headers is None else headers,
        follow_redirects=False,
    )


def submit_pins(client: TestClient, job: dict, pins: dict | None = None, **extra: str):
    page = open_page(client, job)
    assert 'name="pin_legitimering"' in page.text, page.text
    data = {"csrf": csrf_of(page.text), "action": "start", **(pins or PINS), **extra}
    return post_page(client, job["job_id"], data)


def confirm_final_try(client: TestClient, job: dict) -> None:
    """The separate final-try step: the page asks first; "Jag förstår" is recorded on the
    agent for this page session."""
    page = open_page(client, job)
    assert "Koden spärras om den blir fel" in page.text, page.text
    assert 'name="pin_legitimering"' not in page.text  # no PIN form before the confirmation
    data = {"csrf": csrf_of(page.text), "action": "confirm_final_try"}
    r = post_page(client, job["job_id"], data)
    assert r.status_code == 303


def finish(client: TestClient, job_id: str, timeout: float = 60) -> dict:
    client.app.state.upgrades.wait(job_id, timeout)
    r = client.get(f"/v1/jobs/{job_id}")
    assert r.status_code == 200
    return r.json()


def card_objects(client: TestClient | None, card: ProvisionedCard) -> dict[str, list]:
    """What is on the card's two tokens now (logged in with the demo PINs, test side only)."""
    from devtools.softhsm import SOFTHSM2_MODULE

    settings = client.app.state.settings if client is not None else None
    reader = Pkcs11Reader(
        settings.pkcs11_module if settings else SOFTHSM2_MODULE,
        settings.softhsm2_conf if settings else None,
    )
    reader._load()
    reader.refresh()
    writer = CardWriter(reader)
    pins = {"legitimering": DEMO_PIN_LEGITIMERING, "underskrift": DEMO_PIN_UNDERSKRIFT}
    try:
        for role, serial in card.token_serials.items():
            writer.login(role, serial, pins[role])
        return {role: writer.objects(role) for role in card.token_serials}
    finally:
        writer.close()


def assert_upgraded(client: TestClient | None, card: ProvisionedCard, test_pki: TestPKI) -> None:
    objs = card_objects(client, card)
    certs = {
        (role, o.id.decode()): x509.load_der_x509_certificate(o.der)
        for role, lst in objs.items()
        for o in lst
        if o.kind == "cert"
    }
    assert sorted(certs) == [
        ("legitimering", "IdentificationC"),
        ("legitimering", "IdentificationCP"),
        ("underskrift", "SignatureC"),
        ("underskrift", "SignatureCP"),
    ], sorted(certs)
    for (role, cid), cert in certs.items():
        issuer = pkimod.ID3 if cid.endswith("P") else pkimod.HSA3
        ca = test_pki.certs[issuer]
        cert.verify_directly_issued_by(ca)  # the four e-id certificates verify against the PKI
        ca.verify_directly_issued_by(test_pki.certs[pkimod.EID_ROOT])
        mod = modulus_hash(cert.public_key().public_numbers().n)
        keys = [o for o in objs[role] if o.kind == "private" and o.mod_hash == mod]
        assert len(keys) == 1 and keys[0].id.decode() == cid, "its key is on the card"
        label = [o.label for o in objs[role] if o.kind == "cert" and o.id.decode() == cid][0]
        assert label == "Tessa Testsson, Testregionen"
    # the old pair is gone: no certificate or key other than the four new pairs
    assert sum(1 for lst in objs.values() for o in lst if o.kind == "private") == 4
    assert sum(1 for lst in objs.values() for o in lst if o.kind == "public") == 4


def assert_old_intact(client: TestClient | None, card: ProvisionedCard) -> None:
    objs = card_objects(client, card)
    kinds = sorted((role, o.kind, o.id.decode()) for role, lst in objs.items() for o in lst)
    assert kinds == [
        ("legitimering", "cert", "IdentificationC"),
        ("legitimering", "private", "IdentificationC"),
        ("legitimering", "public", "IdentificationC"),
        ("underskrift", "cert", "SignatureC"),
        ("underskrift", "private", "SignatureC"),
        ("underskrift", "public", "SignatureC"),
    ]
    for lst in objs.values():
        cert = next(o for o in lst if o.kind == "cert")
        issuer = x509.load_der_x509_certificate(cert.der).issuer.rfc4514_string()
        assert pkimod.TYPE1 in issuer
        assert any(o.kind == "private" and o.mod_hash == cert.mod_hash for o in lst)


# --- the happy path -----------------------------------------------------------------------


def test_full_upgrade_of_old_card(make_agent, fresh_card, test_pki, est_ca) -> None:
    card = fresh_card("old")
    client = make_agent()
    assert client.get("/v1/card/state").json()["state"] == "not_upgraded"
    job = start_job(client)
    assert job["progress"] == 0 and [s["name"] for s in job["steps"]][0] == "check_card"
    # asking again returns the same job, never a second one
    again = client.post("/v1/upgrade", json={})
    assert again.status_code == 200 and again.json()["job_id"] == job["job_id"]
    assert again.json()["created"] is False
    r = submit_pins(client, job)
    assert r.status_code == 303
    done = finish(client, job["job_id"])
    assert done["status"] == "succeeded", done
    assert done["progress"] == 100 and done["error_code"] is None
    assert len(done["certificates"]) == 4
    assert_no_personnummer(str(done))
    assert_upgraded(client, card, test_pki)
    state = client.get("/v1/card/state").json()
    assert state["state"] == "upgraded"
    assert state["details"]["certificate_profile"] == "hsa_and_personnummer_pairs"
    # the PIN page (token-less now, this client holds the cookie) shows the result
    assert done["pin_page_url"] is None and done["page_opened"] is True
    status_page = client.get(f"/pin/{job['job_id']}")
    assert "Uppgraderingen är klar" in status_page.text
    # a new POST for the upgraded card is refused
    r = client.post("/v1/upgrade", json={})
    assert r.status_code == 409 and r.json()["error"] == "not_upgradable"


def test_upgrade_refused_for_upgraded_card(make_agent, card_slot) -> None:
    card_slot.insert("upgraded")
    r = make_agent().post("/v1/upgrade", json={})
    assert r.status_code == 409
    assert r.json()["error"] == "not_upgradable"


def test_upgrade_refused_when_pin_blocked(make_agent, card_slot) -> None:
    card_slot.insert("blocked")
    r = make_agent().post("/v1/upgrade", json={})
    assert r.status_code == 409 and r.json()["error"] == "pin_blocked"


def test_no_pin_in_api(make_agent, fresh_card) -> None:
    fresh_card("old")
    r = make_agent().post("/v1/upgrade", json={"pin": "123456"})
    assert r.status_code == 422  # the API has no place for a PIN


# --- PINs ------------------------------------------------------------------------------------


def test_wrong_pin_keeps_card_and_counts(make_agent, fresh_card, card_slot, est_ca) -> None:
    card = fresh_card("old")
    client = make_agent()
    job = start_job(client)
    requests_before = est_ca.requests
    submit_pins(client, job, {"pin_legitimering": "000000", "pin_underskrift": "654321"})
    after = finish(client, job["job_id"])
    assert after["status"] == "waiting_for_pin"
    assert after["error_code"] == "wrong_pin"
    assert (after["error_role"], after["retries_left"]) == ("legitimering", 2)
    assert "message" not in after
    # the page was opened: the token is spent, the token-less URL works in this browser
    assert after["pin_page_url"] == f"http://127.0.0.1:8765/pin/{job['job_id']}"
    assert after["page_opened"] is True
    assert "Legitimeringskoden var fel. Du har 2 försök kvar." in open_page(client, after).text
    assert card_slot.reader.applet.card["pins"]["129"]["tries_left"] == 2
    assert_old_intact(client, card)
    assert est_ca.requests == requests_before  # nothing was sent to the CA


def test_final_try_needs_confirmation(make_agent, fresh_card, card_slot, test_pki, est_ca) -> None:
    card = fresh_card("old")
    card_slot.reader.applet.card["pins"]["129"]["tries_left"] = 1  # legitimering: final try
    client = make_agent()
    job = start_job(client)
    # the page asks first; a posted form (even with the old confirm_final_try=1 field) is
    # not accepted before the confirmation step: no PIN is tried, the counter is untouched
    page = open_page(client, job)
    assert "Koden spärras om den blir fel" in page.text
    r = post_page(
        client,
        job["job_id"],
        {"csrf": csrf_of(page.text), "action": "start", "confirm_final_try": "1", **PINS},
    )
    assert r.status_code == 303
    after = finish(client, job["job_id"])
    assert after["status"] == "waiting_for_pin"
    assert card_slot.reader.applet.card["pins"]["129"]["tries_left"] == 1
    # confirmed on the page: the (right) PIN is tried and the upgrade runs
    confirm_final_try(client, after)
    submit_pins(client, after)
    done = finish(client, job["job_id"])
    assert done["status"] == "succeeded", done
    assert card_slot.reader.applet.card["pins"]["129"]["tries_left"] == 3
    assert_upgraded(client, card, test_pki)


def test_final_try_wrong_pin_blocks_and_fails(make_agent, fresh_card, card_slot) -> None:
    card = fresh_card("old")
    card_slot.reader.applet.card["pins"]["130"]["tries_left"] = 1  # underskrift: final try
    client = make_agent()
    job = start_job(client)
    confirm_final_try(client, job)
    wrong = {"pin_legitimering": DEMO_PIN_LEGITIMERING, "pin_underskrift": "999999"}
    submit_pins(client, job, wrong)
    after = finish(client, job["job_id"])
    assert after["status"] == "failed" and after["error_code"] == "pin_blocked"
    assert (after["error_role"], after["retries_left"]) == ("underskrift", 0)
    status_page = client.get(f"/pin/{job['job_id']}").text
    assert "Signeringskoden är spärrad" in status_page
    assert_old_intact(client, card)


# --- PIN page security -------------------------------------------------------------------------


def test_pin_page_rejects_forgery(make_agent, fresh_card) -> None:
    fresh_card("old")
    client = make_agent()
    job = start_job(client)
    path = local_path(job["pin_page_url"])
    assert client.get(f"/pin/{job['job_id']}?t=wrong").status_code == 404
    page = open_page(client, job)
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["referrer-policy"] == "same-origin"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert "access-control-allow-origin" not in page.headers
    assert '<html lang="sv">' in page.text and '<label for="pin_legitimering">' in page.text
    assert "Kortprogrammet på den här datorn" in page.text
    form = {"csrf": csrf_of(page.text), "action": "start", **PINS}
    url = f"/pin/{job['job_id']}"
    # not from the page itself: refused before it reaches the job, as a Swedish HTML page
    for headers in (
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site", "Origin": "http://127.0.0.1:9999"},
        {"Origin": OWN_ORIGIN, "Sec-Fetch-Site": "cross-site"},
        {},  # neither header
    ):
        r = post_page(client, job["job_id"], form, headers=headers)
        assert r.status_code == 403, headers
        assert r.headers["content-type"].startswith("text/html")
        assert "Det gick inte att skicka" in r.text
    # wrong CSRF field
    r = post_page(client, job["job_id"], {**form, "csrf": "x"})
    assert r.status_code == 400 and "text/html" in r.headers["content-type"]
    # no cookie (a different browser / attacker who only knows the URL)
    bare = TestClient(client.app, base_url=BASE_URL)
    r = bare.post(url, data=form, headers=BROWSER_POST)
    assert r.status_code == 403 and "Länken har redan använts" in r.text
    # the spent link, opened again without the cookie
    r = bare.get(path)
    assert r.status_code == 403 and "Länken har redan använts" in r.text
    # DNS rebinding: foreign Host
    r = client.get(url, headers={"Host": "evil.example"})
    assert r.status_code == 403 and "text/html" in r.headers["content-type"]
    assert client.get(f"/v1/jobs/{job['job_id']}").json()["status"] == "waiting_for_pin"


def test_pins_never_logged_or_stored(make_agent, fresh_card, caplog, est_ca) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    fresh_card("old")
    client = make_agent()
    job = start_job(client)
    submit_pins(client, job)
    finish(client, job["job_id"])
    db = Path(client.app.state.settings.data_dir, "agent.db").read_bytes()
    wal = Path(client.app.state.settings.data_dir, "agent.db-wal")
    blobs = db + (wal.read_bytes() if wal.exists() else b"")
    blobs = blobs.replace(b"SE1234567890", b"")  # the test HSA-id contains "123456"
    for pin in (DEMO_PIN_LEGITIMERING, DEMO_PIN_UNDERSKRIFT):
        assert pin not in caplog.text
        assert pin.encode() not in blobs
    assert_no_personnummer(caplog.text)
    assert b"191212121212" not in blobs


# --- faults ----------------------------------------------------------------------------------


def test_ca_failing_rolls_back(make_agent, fresh_card, est_ca) -> None:
    card = fresh_card("old")
    client = make_agent()
    est_ca.fail_next = 100  # down for good
    job = start_job(client)
    submit_pins(client, job)
    done = finish(client, job["job_id"])
    assert done["status"] == "rolled_back", done
    assert done["error_code"] == "enrollment_unavailable" and done["error_role"] is None
    assert "Inget ändrades på kortet" in client.get(f"/pin/{job['job_id']}").text
    assert_old_intact(client, card)
    assert client.get("/v1/card/state").json()["state"] == "not_upgraded"
    # the CA is back: a new job on the same card succeeds
    est_ca.fail_next = 0
    job2 = start_job(client)
    assert job2["job_id"] != job["job_id"]
    submit_pins(client, job2)
    assert finish(client, job2["job_id"])["status"] == "succeeded"


def test_ca_failing_half_way_rolls_back(make_agent, fresh_card, est_ca, test_pki) -> None:
    """The CA issues two certificates, then fails: nothing of the new set stays on the card."""
    card = fresh_card("old")
    client = make_agent()

    def hook(job_id: str, label: str) -> None:
        if label == "enroll:3":
            est_ca.fail_next = 100

    client.app.state.upgrades.runner.step_hook = hook
    job = start_job(client)
    submit_pins(client, job)
    done = finish(client, job["job_id"])
    assert done["status"] == "rolled_back" and done["error_code"] == "enrollment_unavailable"
    assert_old_intact(client, card)


def test_wrong_issuer_is_caught(make_agent, fresh_card, est_ca) -> None:
    card = fresh_card("old")
    client = make_agent()
    est_ca.wrong_issuer = True
    job = start_job(client)
    submit_pins(client, job)
    done = finish(client, job["job_id"])
    assert done["status"] == "rolled_back"
    assert done["error_code"] == "certificate_check_failed"
    assert_old_intact(client, card)


@pytest.mark.parametrize("at", ["generate_keys:3", "write_certificates:3", "remove_old:2"])
def test_card_pulled_mid_upgrade_and_put_back(
    make_agent, fresh_card, card_slot, test_pki, est_ca, at: str
) -> None:
    card = fresh_card("old")
    client = make_agent()
    card_data = dict(card_slot.reader.applet.card)
    seen: list[str] = []

    def put_back() -> None:
        time.sleep(1.0)
        card_slot.reader.load(card_data)
        card_slot.reader.insert()

    def hook(job_id: str, label: str) -> None:
        if label == at and not seen:
            seen.append(label)
            card_slot.remove()
            threading.Thread(target=put_back, daemon=True).start()

    client.app.state.upgrades.runner.step_hook = hook
    job = start_job(client)
    submit_pins(client, job)
    time.sleep(0.5)
    mid = client.get(f"/v1/jobs/{job['job_id']}").json()
    assert mid["status"] in ("waiting_for_card", "running")
    done = finish(client, job["job_id"])
    assert seen == [at]
    assert done["status"] == "succeeded", done
    assert_upgraded(client, card, test_pki)


def test_card_pulled_and_not_returned_waits_for_pins(
    make_agent, fresh_card, card_slot, test_pki, est_ca, agent_settings
) -> None:
    card = fresh_card("old")
    client = make_agent(card_wait_s=1.0)
    runner = client.app.state.upgrades.runner
    card_data = dict(card_slot.reader.applet.card)

    def hook(job_id: str, label: str) -> None:
        if label == "write_certificates:2":
            card_slot.remove()

    runner.step_hook = hook
    job = start_job(client)
    submit_pins(client, job)
    after = finish(client, job["job_id"])
    assert after["status"] == "waiting_for_pin" and after["error_code"] == "card_removed"
    runner.step_hook = None
    # the card comes back later; the old set still works; the user types the PINs again
    card_slot.reader.load(card_data)
    card_slot.reader.insert()
    assert pcsc.wait_for_change(TEST_READER, True, timeout_s=5)
    # both sets partly there, the old pair complete: the card still works as before
    assert client.get("/v1/card/state").json()["state"] in (
        "not_upgraded",
        "upgraded_with_old_restored",
    )
    submit_pins(client, after)
    done = finish(client, job["job_id"])
    assert done["status"] == "succeeded", done
    assert_upgraded(client, card, test_pki)


def test_cancel_after_keys_were_made_rolls_back(make_agent, fresh_card, card_slot, est_ca) -> None:
    card = fresh_card("old")
    client = make_agent(card_wait_s=0.5)
    runner = client.app.state.upgrades.runner

    def hook(job_id: str, label: str) -> None:
        if label == "enroll:1":
            card_slot.remove()

    runner.step_hook = hook
    job = start_job(client)
    submit_pins(client, job)
    after = finish(client, job["job_id"])
    assert after["error_code"] == "card_removed"
    runner.step_hook = None
    card_slot.insert(
        next(k for k, v in card_slot.cards.items() if v is card), card_serial=card.serial
    )
    submit_pins(client, after, action="cancel")
    done = finish(client, job["job_id"])
    assert done["status"] == "cancelled", done
    assert_old_intact(client, card)
