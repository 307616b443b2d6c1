"""The upgrade's key and certificate plan as pure functions: no card, no token, no CA.

The objects are plain :class:`TokenObject` values as the card writer would read them; what
the plan decides about them (old, ours, stale, unidentified, what to delete and in which
order) is what keeps a card usable whatever happens during an upgrade.
"""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from cardagent.assurance import AssuranceMapping
from cardagent.cardobjects import TokenObject, cert_modulus_hash, fingerprint
from cardagent.certinfo import parse_certificate
from cardagent.classify import Classification, PinStatus
from cardagent.pcsc import ReaderState
from cardagent.pkcs11_reader import RawCertificate, TokenData
from cardagent.service import CardReading, TokenView
from cardagent.upgrade import plan, steps
from cardagent.upgrade.errors import REFUSALS, UpgradeRefused
from cardagent.upgrade.job import CardRef, JobState, JobStatus, OldSet, Phase

IDC, SIGC, IDCP, SIGCP = b"IdentificationC", b"SignatureC", b"IdentificationCP", b"SignatureCP"
OLD_L_DER, OLD_U_DER = b"old legitimering certificate", b"old underskrift certificate"
HSA_ID = "SE1234567890-TEST0000001"


def obj(
    kind: str,
    cka_id: bytes,
    mod: str | None,
    der: bytes | None = None,
    *,
    id_readable: bool = True,
) -> TokenObject:
    if kind == "cert" and der is None:
        der = f"certificate {cka_id!r} {mod}".encode()
    return TokenObject(kind, cka_id, "label", mod, der, handle=None, id_readable=id_readable)


def pair(cka_id: bytes, mod: str, cert_der: bytes | None = None) -> list[TokenObject]:
    """A key pair and its certificate under one CKA_ID."""
    return [
        obj("cert", cka_id, mod, cert_der),
        obj("private", cka_id, mod),
        obj("public", cka_id, mod),
    ]


def state(**changes: object) -> JobState:
    base = JobState(
        card=CardRef(
            reader="Reader 0",
            atr="3B 00",
            serial="1234",
            key="card:1234",
            tokens={"legitimering": "L1", "underskrift": "U1"},
        ),
        old=OldSet(
            fingerprints=[fingerprint(OLD_L_DER), fingerprint(OLD_U_DER)],
            moduli=["old-l", "old-u"],
            ids=[IDC.hex(), SIGC.hex()],
        ),
        hsa_id=HSA_ID,
        label="Tessa Testsson",
        subject="",
    )
    return base.model_copy(update=changes)


def old_card() -> plan.Inventory:
    return {
        "legitimering": pair(IDC, "old-l", OLD_L_DER),
        "underskrift": pair(SIGC, "old-u", OLD_U_DER),
    }


# --- the plan -------------------------------------------------------------------------------


def test_plan_is_an_hsa_id_and_a_personnummer_pair_on_each_token() -> None:
    assert [(p.role, p.identifier_kind, p.purpose, p.cka_id) for p in plan.PLAN] == [
        ("legitimering", "hsa_id", "authentication", IDC),
        ("underskrift", "hsa_id", "signature", SIGC),
        ("legitimering", "personnummer", "authentication", IDCP),
        ("underskrift", "personnummer", "signature", SIGCP),
    ]
    assert plan.planned_ids("legitimering") == {IDC, IDCP}
    assert plan.planned_ids("underskrift") == {SIGC, SIGCP}
    item = plan.PLAN[2]
    assert plan.expected(item, state()).hsa_id == HSA_ID
    assert plan.expected(item, state()).identifier_kind == "personnummer"


# --- identity ---------------------------------------------------------------------------------


def test_old_pair_is_known_by_fingerprint_modulus_and_id() -> None:
    old = state().old
    cert, key, pub = pair(IDC, "old-l", OLD_L_DER)
    assert plan.is_old(cert, old) and plan.is_old(key, old) and plan.is_old(pub, old)
    # a certificate with the old ID but other content (the new HSA-id certificate) is not old
    assert not plan.is_old(obj("cert", IDC, "new-1"), old)
    # the old modulus under a CKA_ID the old pair did not have: not the old key
    assert not plan.is_old(obj("private", b"Other", "old-l"), old)
    # a job of an older agent recorded no IDs: the modulus decides
    assert plan.is_old(
        obj("private", b"Other", "old-l"), OldSet(**{**old.model_dump(), "ids": None})
    )


def test_an_object_whose_identity_cannot_be_read_is_neither_old_nor_new() -> None:
    st = state(new_moduli=["new-1"])
    no_modulus = obj("private", IDC, None)
    no_id = obj("private", b"", "old-l", id_readable=False)
    no_value = TokenObject("cert", IDC, "label", None, None, handle=None)
    for o in (no_modulus, no_id, no_value):
        assert not o.identified
        assert not plan.is_old(o, st.old)
        assert not plan.is_new(o, "legitimering", st)


def test_new_means_a_planned_id_and_a_modulus_this_job_generated() -> None:
    st = state(new_moduli=["new-1"])
    assert plan.is_new(obj("private", IDCP, "new-1"), "legitimering", st)
    assert plan.is_new(obj("cert", IDC, "new-1"), "legitimering", st)
    # a key under a planned ID this job did not generate (e.g. someone else's): not ours
    assert not plan.is_new(obj("private", IDCP, "foreign"), "legitimering", st)
    # our modulus under an ID outside the plan of that token
    assert not plan.is_new(obj("private", SIGC, "new-1"), "legitimering", st)
    assert not plan.is_new(obj("private", b"Unrelated", "new-1"), "legitimering", st)


def test_unidentified_lists_only_objects_the_plan_could_concern() -> None:
    inv = old_card()
    inv["legitimering"] += [
        obj("private", IDCP, None),  # planned ID, modulus unreadable
        obj("private", b"", None, id_readable=False),  # ID unreadable
        obj("private", b"Unrelated", None),  # not the plan's business
    ]
    assert plan.unidentified(inv, state()) == [
        f"legitimering/private/{IDCP.hex()}",
        "legitimering/private/?",
    ]
    assert plan.unidentified(old_card(), state()) == []


# --- taking stock ------------------------------------------------------------------------------


def test_keys_before_the_job_wrote_are_never_adopted() -> None:
    inv = old_card()
    inv["legitimering"].append(obj("private", IDCP, "left-by-someone"))
    before = plan.keys_before(inv)
    assert before == sorted(["old-l", "old-u", "left-by-someone"])
    st = state(touched=True, before=before)
    assert plan.adopted_keys(inv, st) == []
    # a key generated after that but not recorded (crash): adopted once
    inv["underskrift"].append(obj("private", SIGCP, "crashed"))
    assert plan.adopted_keys(inv, st) == ["crashed"]
    assert plan.adopted_keys(inv, state(touched=True, before=before, new_moduli=["crashed"])) == []


def test_no_adoption_without_a_record_of_the_keys_before() -> None:
    inv = old_card()
    inv["underskrift"].append(obj("private", SIGCP, "crashed"))
    assert plan.adopted_keys(inv, state(touched=True, before=None)) == []


# --- what to do --------------------------------------------------------------------------------


def test_pair_on_card_prefers_the_key_with_its_certificate_and_marks_the_rest_stale() -> None:
    st = state(new_moduli=["new-a", "new-b"])
    inv = old_card()
    lonely_key, lonely_pub = obj("private", IDCP, "new-a"), obj("public", IDCP, "new-a")
    done = pair(IDCP, "new-b")
    inv["legitimering"] += [lonely_key, lonely_pub, *done]
    found = plan.pair_on_card(inv, plan.PLAN[2], st)
    assert found.key is done[1] and found.cert is done[0]
    assert found.stale == [lonely_key, lonely_pub]
    # nothing generated yet for the HSA-id pair: only the old pair is under its ID
    hsa = plan.pair_on_card(inv, plan.PLAN[0], st)
    assert hsa.key is None and hsa.cert is None and hsa.stale == []


def test_pair_on_card_without_a_certificate_yet() -> None:
    st = state(new_moduli=["new-a"])
    key, pub = obj("private", IDCP, "new-a"), obj("public", IDCP, "new-a")
    inv = {"legitimering": [key, pub], "underskrift": []}
    found = plan.pair_on_card(inv, plan.PLAN[2], st)
    assert found.key is key and found.cert is None and found.stale == []


def test_old_objects_are_removed_certificates_first_and_nothing_else() -> None:
    st = state(new_moduli=["new-1", "new-2"])
    inv = old_card()
    inv["legitimering"] += pair(IDC, "new-1") + [obj("private", b"Unrelated", "x")]
    inv["underskrift"] += pair(SIGC, "new-2")
    targets = plan.old_objects(inv, st)
    assert [(o.kind, o.mod_hash) for o in targets] == [
        ("cert", "old-l"),
        ("cert", "old-u"),
        ("private", "old-l"),
        ("private", "old-u"),
        ("public", "old-l"),
        ("public", "old-u"),
    ]


def test_rollback_deletes_only_what_the_job_made() -> None:
    st = state(new_moduli=["new-1", "new-2"])
    inv = old_card()
    mine = pair(IDC, "new-1") + pair(SIGCP, "new-2")[1:]
    foreign = [obj("private", IDCP, "foreign"), obj("cert", b"Unrelated", "new-1")]
    inv["legitimering"] += mine[:3] + foreign
    inv["underskrift"] += mine[3:]
    targets = plan.new_objects(inv, st)
    assert sorted(map(id, targets)) == sorted(map(id, mine))
    assert [o.kind for o in targets] == ["cert", "private", "private", "public", "public"]
    assert not any(plan.is_old(o, st.old) for o in targets)


# --- the job's starting point -------------------------------------------------------------------


def _certificate(issuer_cn: str, serial_number: str, purpose: str) -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "SE"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Testregionen"),
            x509.NameAttribute(NameOID.GIVEN_NAME, "Tessa"),
            x509.NameAttribute(NameOID.SURNAME, "Testsson"),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, serial_number),
            x509.NameAttribute(NameOID.COMMON_NAME, "Tessa Testsson"),
        ]
    )
    auth = purpose == "auth"
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_cn)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=10))
        .not_valid_after(now + dt.timedelta(days=500))
        .add_extension(
            x509.KeyUsage(auth, not auth, auth, False, False, False, False, False, False),
            critical=True,
        )
    )
    if auth:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
    return builder.sign(key, hashes.SHA256()).public_bytes(Encoding.DER)


def _token(label: str, serial: str, cka_id: bytes, der: bytes) -> TokenView:
    raw = RawCertificate(label="Tessa Testsson, Testregionen", id_hex=cka_id.hex(), der=der)
    data = TokenData(0, label, serial, "Test", "Card", frozenset(), (raw,))
    info = parse_certificate(
        der,
        token_label=label,
        token_serial=serial,
        label=raw.label,
        id_hex=raw.id_hex,
        mapping=AssuranceMapping(),
    )
    return TokenView(data, PinStatus(None, "ok", 3, ("pkcs11_flags",)), [info])


def _reading(tokens: list[TokenView]) -> CardReading:
    reader = ReaderState(name="Reader 0", card_present=True, atr="3B 00")
    return CardReading(
        readers=[reader],
        card_reader=reader,
        card_serial="1234",
        tokens=tokens,
        certificates=[c for t in tokens for c in t.certificates],
        classification=Classification("not_upgraded", "not_upgraded"),
        checked_at=dt.datetime.now(dt.UTC),
        read_ms=1.0,
    )


@pytest.fixture(scope="module")
def old_ders() -> tuple[bytes, bytes]:
    issuer = "TEST SITHS Type 1 CA v1"
    return _certificate(issuer, HSA_ID, "auth"), _certificate(issuer, HSA_ID, "sign")


def test_initial_state_records_the_old_pair_and_the_new_subject(old_ders) -> None:  # noqa: ANN001
    auth, sign = old_ders
    reading = _reading(
        [
            _token("SITHS kort (Legitimering)", "L1", IDC, auth),
            _token("SITHS kort (Underskrift)", "U1", SIGC, sign),
        ]
    )
    st = plan.initial_state(reading)
    assert st.card == CardRef(
        reader="Reader 0",
        atr="3B 00",
        serial="1234",
        key="card:1234",
        tokens={"legitimering": "L1", "underskrift": "U1"},
    )
    assert st.old.fingerprints == [fingerprint(auth), fingerprint(sign)]
    assert st.old.moduli == [cert_modulus_hash(auth), cert_modulus_hash(sign)]
    assert st.old.ids == sorted([IDC.hex(), SIGC.hex()])
    assert st.hsa_id == HSA_ID and st.label == "Tessa Testsson, Testregionen"
    assert st.phase == Phase.NEW and not st.touched and st.before is None
    subject = plan.new_subject(st)
    assert subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value == HSA_ID
    assert subject.get_attributes_for_oid(NameOID.GIVEN_NAME)[0].value == "Tessa"
    assert subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)[0].value == "SE"
    # the recorded state survives its JSON form unchanged
    assert JobState.model_validate(st.to_json()) == st


def test_initial_state_refuses_a_card_without_both_pin_tokens(old_ders) -> None:  # noqa: ANN001
    reading = _reading([_token("SITHS kort (Legitimering)", "L1", IDC, old_ders[0])])
    with pytest.raises(UpgradeRefused) as refused:
        plan.initial_state(reading)
    assert refused.value.code == "missing_pin_token" and refused.value.status == 409
    assert refused.value.to_dict() == {
        "error": "missing_pin_token",
        "message": REFUSALS["missing_pin_token"],
    }


def test_initial_state_refuses_old_certificates_without_hsa_id() -> None:
    issuer = "TEST SITHS Type 1 CA v1"
    reading = _reading(
        [
            _token("Legitimering", "L1", IDC, _certificate(issuer, "not-an-id", "auth")),
            _token("Underskrift", "U1", SIGC, _certificate(issuer, "not-an-id", "sign")),
        ]
    )
    with pytest.raises(UpgradeRefused) as refused:
        plan.initial_state(reading)
    assert refused.value.code == "old_without_hsa_id"


# --- the job record and its steps ------------------------------------------------------------


def test_job_state_reads_the_json_of_older_agents() -> None:
    """Jobs stored by the agent before the split (a dict without ids/before) still load."""
    stored = {
        "card": {
            "reader": "R",
            "atr": "3B",
            "serial": None,
            "key": "tokens:L1,U1",
            "tokens": {"legitimering": "L1", "underskrift": "U1"},
        },
        "old": {"fingerprints": ["f"], "moduli": ["m"]},
        "hsa_id": HSA_ID,
        "label": "Tessa",
        "subject": "",
        "phase": "new_set_complete",
        "touched": True,
        "pins": {"legitimering": {"retries_left": 2}},
    }
    st = JobState.model_validate(stored)
    assert st.old.ids is None and st.before is None and st.new_moduli == []
    assert st.phase == Phase.NEW_SET_COMPLETE and st.pins["legitimering"].retries_left == 2
    assert plan.is_old(obj("private", b"Any", "m"), st.old)


def test_status_enum_and_active_statuses() -> None:
    assert [s.value for s in JobStatus] == [
        "waiting_for_pin",
        "running",
        "waiting_for_card",
        "succeeded",
        "failed",
        "rolled_back",
        "cancelled",
    ]
    assert {s for s in JobStatus if s.active} == {
        JobStatus.WAITING_FOR_PIN,
        JobStatus.RUNNING,
        JobStatus.WAITING_FOR_CARD,
    }


def test_progress_and_step_list() -> None:
    assert steps.progress("check_card") == 2
    assert steps.progress("generate_keys", 1) == 12 and steps.progress("generate_keys", 4) == 27
    assert steps.checkpoint_label("remove_old", 2) == "remove_old:2"
    assert steps.checkpoint_label("verify") == "verify"
    listed = steps.step_list(JobStatus.RUNNING, "enroll")
    assert [s["status"] for s in listed] == ["done"] * 3 + ["running"] + ["pending"] * 3
    assert listed[3] == {"name": "enroll", "status": "running"}  # names only: no titles
    failed = steps.step_list(JobStatus.ROLLED_BACK, "enroll")
    assert failed[3]["status"] == "failed"
    assert {s["status"] for s in steps.step_list(JobStatus.SUCCEEDED, "remove_old")} == {"done"}
    assert {s["status"] for s in steps.step_list(JobStatus.WAITING_FOR_PIN, None)} == {"pending"}


def test_refusals_are_english_for_developers() -> None:
    """Every refusal code has a short English message (the bot words the code itself)."""
    assert set(REFUSALS) == {
        "no_card",
        "not_a_siths_card",
        "not_upgradable",
        "enrollment_not_configured",
        "missing_pin_token",
        "old_without_hsa_id",
        "pin_blocked",
    }
    for code, message in REFUSALS.items():
        assert message.isascii() and message.endswith("."), code
