"""Card states from certificate facts (unit tests: no reader, no card, no token).

The real cards' states are checked on the stack in test_card_states.py; here the rules
behind them, one fact at a time. A classification is facts only: state, card type, warning
codes, details; no text.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from cardagent.assurance import FAMILY_EID, FAMILY_LEGACY
from cardagent.certinfo import CertInfo
from cardagent.classify import WARNINGS, Classification, PinStatus, classify
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
) -> Classification:
    return classify(
        readers=[READER],
        card_reader=READER,
        certificates=certs,
        pins=list(pins),
        now=NOW,
        expiry_warning_days=warn_days,
    )


def test_no_reader_no_card_no_siths() -> None:
    none = classify(
        readers=[], card_reader=None, certificates=[], pins=[], now=NOW, expiry_warning_days=60
    )
    assert none == Classification("no_reader")
    empty = classify(
        readers=[READER],
        card_reader=None,
        certificates=[],
        pins=[],
        now=NOW,
        expiry_warning_days=60,
    )
    assert empty == Classification("no_card")
    other = run([cert(family=None)])
    assert other == Classification("not_a_siths_card", facts={"certificate_count": 1})


@pytest.mark.parametrize(
    ("certs", "state"),
    [
        (OLD, "not_upgraded"),
        (pairs(), "upgraded"),
        (pairs() + OLD, "upgraded_with_old_restored"),
        (pairs(level=2), "eid_level2"),
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
    got = run(auth)
    assert got.state == "upgraded" and got.facts["certificate_profile"] == "authentication_only"
    assert got.facts["assurance_level"] == 3 and got.warnings == []


def test_expired_names_the_last_expiry_and_wins_over_a_blocked_pin() -> None:
    certs = [
        replace(c, not_after=NOW - dt.timedelta(days=d)) for c, d in zip(OLD, (30, 10), strict=True)
    ]
    got = run(certs, [PinStatus("legitimering", "locked", 0, ("p",))])
    assert got.state == "expired" and got.base_state == "not_upgraded"
    last = (NOW - dt.timedelta(days=10)).date().isoformat()
    assert got.facts["earliest_expiry"].startswith(last)
    assert got.facts["latest_expiry"].startswith(last)
    assert got.facts["days_left"] == -10
    assert got.facts["blocked_pins"] == ["legitimering"]  # a fact, though expired wins


def test_blocked_pins_are_named_together() -> None:
    pins = [
        PinStatus("underskrift", "locked", 0, ("p",)),
        PinStatus("legitimering", "locked", 0, ("p",)),
    ]
    got = run(OLD, pins)
    assert got.state == "pin_blocked" and got.base_state == "not_upgraded"
    assert got.facts["blocked_pins"] == ["legitimering", "underskrift"]
    unnamed = run(OLD, [PinStatus(None, "locked", 0, ("p",))])
    assert unnamed.facts["blocked_pins"] == ["unknown"]


def test_expiring_soon_is_a_fact_with_the_card_type_and_dates() -> None:
    old = run([replace(c, not_after=NOW + dt.timedelta(days=20)) for c in OLD])
    assert old.state == "expiring_soon" and old.base_state == "not_upgraded"
    assert old.facts["days_left"] == 20
    assert old.facts["earliest_expiry"].startswith("2024-05-21")
    new = run(pairs(days=0))
    assert new.state == "expiring_soon" and new.base_state == "upgraded"
    assert new.facts["days_left"] == 0
    assert run(pairs(days=20), warn_days=10).state == "upgraded"


def test_an_old_card_is_not_upgraded_whatever_the_date() -> None:
    """No deadline in the agent: the bot decides what to offer from its site dates."""
    assert run(OLD).state == "not_upgraded"
    far = NOW + dt.timedelta(days=3650)
    late = classify(
        readers=[READER],
        card_reader=READER,
        certificates=[replace(c, not_after=far + dt.timedelta(days=400)) for c in OLD],
        pins=[],
        now=far,
        expiry_warning_days=60,
    )
    assert late.state == "not_upgraded" and late.base_state == "not_upgraded"


def test_latest_expiry_is_the_last_siths_certificate() -> None:
    certs = [replace(c, not_after=NOW + dt.timedelta(days=d)) for c, d in zip(
        pairs() + OLD, (400, 500, 450, 420, 900, 100), strict=True
    )]
    got = run(certs)
    assert got.state == "upgraded_with_old_restored"
    assert got.facts["earliest_expiry"].startswith("2025-06-05")  # the e-id certificates'
    assert got.facts["latest_expiry"].startswith("2026-10-18")  # the old pair's 900 days


def test_warnings_in_order() -> None:
    pins = [
        PinStatus("legitimering", "final_try", 1, ("p",)),
        PinStatus("underskrift", "count_low", 2, ("p",)),
    ]
    expired_one = replace(pairs()[0], not_after=NOW - dt.timedelta(days=1))
    invalid = cert(ident="19121212-0000")
    got = run([expired_one, *pairs()[1:3], invalid], pins)
    assert got.warnings == [
        "pin_final_try",
        "pin_count_low",
        "some_certificates_expired",
        "identifier_invalid",
        "certificate_set_incomplete",
    ]
    assert tuple(got.warnings) == WARNINGS
    assert got.facts["final_try_pins"] == ["legitimering"]
    both_low = run(pairs(), [PinStatus(r, "count_low", 2, ("p",)) for r in ("legitimering", "x")])
    assert both_low.warnings == ["pin_count_low"]  # a code once; which PIN: the tokens
