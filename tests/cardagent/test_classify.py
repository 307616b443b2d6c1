"""Card states from certificate facts (unit tests: no reader, no card, no token).

The real cards' states are checked on the stack in test_card_states.py; here the rules
behind them, one fact at a time.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from cardagent.assurance import FAMILY_EID, FAMILY_LEGACY
from cardagent.certinfo import CertInfo
from cardagent.classify import Classification, PinStatus, classify
from cardagent.classify.facts import certificate_profile, content_state
from cardagent.identifiers import recognise
from cardagent.pcsc import ReaderState
from devtools.cards import synthetic_personnummer

NOW = dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC)
READER = ReaderState("Reader 0", True, "3B 00")
HSA = "SE1234567890-TEST0000001"
PNR = synthetic_personnummer("19121212", "121")


def cert(
    family: str | None = FAMILY_EID,
    level: int | None = 3,
    ident: str | None = HSA,
    purpose: str = "authentication",
    days: int = 400,
) -> CertInfo:
    return CertInfo(
        token_label="t",
        token_serial="s",
        label="l",
        id_hex="00",
        subject="",
        issuer="",
        issuer_cn="CA",
        serial_number="01",
        not_before=NOW - dt.timedelta(days=400),
        not_after=NOW + dt.timedelta(days=days),
        key_usage=(),
        extended_key_usage=(),
        policy_oids=(),
        identifier=recognise(ident),
        assurance_level=level,
        ca_family=family,
        purpose=purpose,
        fingerprint_sha256="",
    )


def pairs(family: str = FAMILY_EID, level: int | None = 3, days: int = 400) -> list[CertInfo]:
    return [
        cert(family, level, ident, purpose, days)
        for ident in (HSA, PNR)
        for purpose in ("authentication", "signature")
    ]


OLD = [
    cert(FAMILY_LEGACY, None, HSA, "authentication"),
    cert(FAMILY_LEGACY, None, HSA, "signature"),
]


def run(
    certs: list[CertInfo],
    pins: list[PinStatus] = (),  # type: ignore[assignment]
    warn_days: int = 60,
    deadline: dt.date | None = None,
) -> Classification:
    return classify(
        readers=[READER],
        card_reader=READER,
        certificates=certs,
        pins=list(pins),
        now=NOW,
        expiry_warning_days=warn_days,
        upgrade_deadline=deadline,
    )


def test_no_reader_no_card_no_siths() -> None:
    none = classify(
        readers=[], card_reader=None, certificates=[], pins=[], now=NOW, expiry_warning_days=60
    )
    assert none.state == "no_reader" and none.next_step.action == "connect_reader"
    empty = classify(
        readers=[READER],
        card_reader=None,
        certificates=[],
        pins=[],
        now=NOW,
        expiry_warning_days=60,
    )
    assert empty.state == "no_card" and empty.next_step.action == "insert_card"
    other = run([cert(family=None)])
    assert other.state == "not_a_siths_card" and other.facts == {"certificate_count": 1}
    assert "Telia" in other.explanation


@pytest.mark.parametrize(
    ("certs", "state"),
    [
        (OLD, "not_upgraded"),
        (pairs(), "upgraded"),
        (pairs() + OLD, "upgraded_with_old_restored"),
        (pairs(level=2), "replacement_level2"),
        (pairs(level=None), "upgraded"),  # e-id with an unknown level counts as upgraded
    ],
)
def test_card_type_from_the_certificates(certs: list[CertInfo], state: str) -> None:
    assert content_state(certs)[0] == state
    got = run(certs)
    assert got.state == state and got.base_state == state


def test_profile_names_what_the_certificates_cover() -> None:
    assert certificate_profile(pairs())["certificate_profile"] == "hsa_and_personnummer_pairs"
    assert certificate_profile(OLD)["certificate_profile"] == "hsa_id_only"
    auth = [cert(ident=HSA), cert(ident=PNR)]
    assert certificate_profile(auth)["certificate_profile"] == "authentication_only"
    assert certificate_profile(pairs()[:3])["certificate_profile"] == "incomplete"
    assert run(auth).explanation.startswith("Kortet har SITHS e-id-certifikat på tillitsnivå 3")


def test_expired_names_the_last_expiry_and_wins_over_a_blocked_pin() -> None:
    certs = [
        replace(c, not_after=NOW - dt.timedelta(days=d)) for c, d in zip(OLD, (30, 10), strict=True)
    ]
    got = run(certs, [PinStatus("legitimering", "locked", 0, ("p",))])
    assert got.state == "expired" and got.base_state == "not_upgraded"
    last = (NOW - dt.timedelta(days=10)).date().isoformat()
    assert last in got.explanation and got.facts["earliest_expiry"].startswith(last)
    assert got.facts["days_left"] == -10 and got.next_step.action == "order_new_card"


def test_blocked_pins_are_named_together() -> None:
    pins = [
        PinStatus("underskrift", "locked", 0, ("p",)),
        PinStatus("legitimering", "locked", 0, ("p",)),
    ]
    got = run(OLD, pins)
    assert got.state == "pin_blocked"
    assert got.explanation.startswith(
        "Legitimeringskoden och signeringskoden (underskrift) på kortet är spärrad"
    )
    assert got.facts["blocked_pins"] == ["legitimering", "underskrift"]
    assert "200 kr" in got.next_step.text


def test_expiring_soon_advice_depends_on_the_card_type() -> None:
    old = run([replace(c, not_after=NOW + dt.timedelta(days=20)) for c in OLD])
    assert old.state == "expiring_soon" and old.base_state == "not_upgraded"
    assert old.next_step.action == "upgrade_or_wait_for_new_card"
    assert "om 20 dagar" in old.explanation
    new = run(pairs(days=0))
    assert new.next_step.action == "renew_card" and "inom ett dygn" in new.explanation
    assert run(pairs(days=20), warn_days=10).state == "upgraded"


def test_after_the_deadline_an_old_card_needs_a_new_card() -> None:
    assert run(OLD, deadline=dt.date(2030, 1, 1)).next_step.action == "upgrade"
    late = run(OLD, deadline=dt.date(2020, 12, 31))
    assert late.state == "not_upgraded" and late.next_step.action == "order_new_card"


def test_warnings_in_order() -> None:
    pins = [
        PinStatus("legitimering", "final_try", 1, ("p",)),
        PinStatus("underskrift", "count_low", 2, ("p",)),
    ]
    expired_one = replace(pairs()[0], not_after=NOW - dt.timedelta(days=1))
    invalid = cert(ident="19121212-0000")
    got = run([expired_one, *pairs()[1:3], invalid], pins)
    assert [w.code for w in got.warnings] == [
        "pin_final_try",
        "pin_count_low",
        "some_certificates_expired",
        "identifier_invalid",
        "certificate_set_incomplete",
    ]
    assert "legitimeringskoden" in got.warnings[0].text
    assert "(2 försök kvar)" in got.warnings[1].text
    assert got.facts["final_try_pins"] == ["legitimering"]
