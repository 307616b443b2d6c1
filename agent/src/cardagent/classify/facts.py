"""The facts behind a card state: card type from the certificates, their profile, expiry, PIN
counters, and which warnings apply. Facts only: the bot words them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from cardagent.assurance import FAMILY_EID, FAMILY_LEGACY
from cardagent.certinfo import CertInfo


@dataclass(frozen=True)
class PinStatus:
    role: str | None  # "legitimering", "underskrift" or None if the token label does not say
    status: str  # "ok", "count_low", "final_try", "locked"
    retries_left: int | None
    sources: tuple[str, ...]


@dataclass
class CardFacts:
    """What the SITHS certificates and PIN counters of a card say."""

    base_state: str  # the card type: not_upgraded, upgraded, ..., eid_level2
    any_valid: bool  # at least one SITHS certificate has not expired
    blocked: list[str]  # roles of locked PINs ("unknown" when the token does not say)
    final_try: list[str]  # roles of PINs with one try left
    earliest: dt.datetime  # first expiry among the certificates that define the card type
    days_left: int
    latest: dt.datetime  # last expiry among all SITHS certificates
    facts: dict[str, Any]  # as the API shows them (details of /v1/card/state)


def content_state(certs: list[CertInfo]) -> tuple[str, list[CertInfo]]:
    """The card type from its SITHS certificates, and the certificates that define it."""
    eid3 = [c for c in certs if c.ca_family == FAMILY_EID and (c.assurance_level or 0) >= 3]
    eid_other = [c for c in certs if c.ca_family == FAMILY_EID and c.assurance_level is None]
    eid2 = [c for c in certs if c.ca_family == FAMILY_EID and c.assurance_level == 2]
    legacy = [c for c in certs if c.ca_family == FAMILY_LEGACY]
    if eid3 or eid_other:
        group = eid3 or eid_other
        return ("upgraded_with_old_restored" if legacy else "upgraded"), group
    if eid2:
        return "eid_level2", eid2
    return "not_upgraded", legacy


def certificate_profile(group: list[CertInfo]) -> dict[str, Any]:
    """Which identifiers and purposes the defining certificates cover."""
    hsa = [c for c in group if c.identifier.kind == "hsa_id"]
    pnr = [c for c in group if c.identifier.is_personal_number]
    signature = [c for c in group if c.purpose == "signature"]
    if not signature and group:
        profile = "authentication_only"
    elif (
        hsa
        and pnr
        and all(
            any(c.purpose == p for c in ids)
            for ids in (hsa, pnr)
            for p in ("authentication", "signature")
        )
    ):
        profile = "hsa_and_personnummer_pairs"
    elif hsa and not pnr:
        profile = "hsa_id_only"
    else:
        profile = "incomplete"
    return {
        "has_hsa_id": bool(hsa),
        "has_personnummer": bool(pnr),
        "has_samordningsnummer": any(c.identifier.kind == "samordningsnummer" for c in group),
        "certificate_profile": profile,
    }


def _roles(pins: list[PinStatus], status: str) -> list[str]:
    return sorted({p.role or "unknown" for p in pins if p.status == status})


def card_facts(siths: list[CertInfo], pins: list[PinStatus], now: dt.datetime) -> CardFacts:
    """The facts of a card with SITHS certificates (``siths`` not empty)."""
    valid = [c for c in siths if c.not_after >= now]
    base_state, group = content_state(valid or siths)
    facts = certificate_profile(group)
    levels = [c.assurance_level for c in group if c.assurance_level is not None]
    facts["assurance_level"] = max(levels) if levels else None
    blocked, final_try = _roles(pins, "locked"), _roles(pins, "final_try")
    facts["blocked_pins"] = blocked
    facts["final_try_pins"] = final_try
    earliest = min(c.not_after for c in group)
    days_left = (earliest.date() - now.date()).days
    latest = max(c.not_after for c in siths)
    facts["latest_expiry"] = latest.isoformat()
    if not valid:  # all expired: say when the last one did
        facts["earliest_expiry"] = latest.isoformat()
        facts["days_left"] = (latest.date() - now.date()).days
    else:
        facts["earliest_expiry"] = earliest.isoformat()
        facts["days_left"] = days_left
    return CardFacts(
        base_state, bool(valid), blocked, final_try, earliest, days_left, latest, facts
    )


def certificate_warnings(siths: list[CertInfo], card: CardFacts, now: dt.datetime) -> list[str]:
    """Codes of the warnings about the certificates, in the order they are shown."""
    codes = []
    valid = [c for c in siths if c.not_after >= now]
    if valid and len(valid) < len(siths):
        codes.append("some_certificates_expired")
    if any(not c.identifier.valid and c.identifier.kind != "none" for c in siths):
        codes.append("identifier_invalid")
    profile = card.facts["certificate_profile"]
    if profile in ("incomplete", "hsa_id_only") and card.base_state.startswith("upgraded"):
        codes.append("certificate_set_incomplete")
    return codes


def state_of(card: CardFacts, expiry_warning_days: int) -> str:
    """The one state of a SITHS card, most urgent first: expired, a blocked PIN, expiring,
    else its type."""
    if not card.any_valid:
        return "expired"
    if card.blocked:
        return "pin_blocked"
    if card.days_left <= expiry_warning_days:
        return "expiring_soon"
    return card.base_state
