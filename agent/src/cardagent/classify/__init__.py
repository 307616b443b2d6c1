"""Classify what is in the reader into one state, with warning codes and the card's facts.

Facts only: the state, the card type behind it (``base_state``), warning codes and the facts
``/v1/card/state`` shows in ``details``. No wording: the bot words every state (its
``domain.yml``), and it decides what to offer from these facts and its own site dates.
``facts.py`` decides (card type, profile, expiry, PIN counters, warnings).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from cardagent.certinfo import CertInfo
from cardagent.classify.facts import (
    CardFacts,
    PinStatus,
    card_facts,
    certificate_warnings,
    state_of,
)
from cardagent.pcsc import ReaderState

STATES = (
    "no_reader",
    "no_card",
    "not_upgraded",
    "upgraded",
    "upgraded_with_old_restored",
    "eid_level2",
    "expiring_soon",
    "expired",
    "pin_blocked",
    "not_a_siths_card",
)

# Every warning code, in the order they are listed.
WARNINGS = (
    "pin_final_try",
    "pin_count_low",
    "some_certificates_expired",
    "identifier_invalid",
    "certificate_set_incomplete",
)

__all__ = ["STATES", "WARNINGS", "CardFacts", "Classification", "PinStatus", "classify"]


@dataclass
class Classification:
    state: str
    base_state: str | None = None
    warnings: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)


def _pin_warnings(pins: list[PinStatus]) -> list[str]:
    """``pin_final_try`` / ``pin_count_low`` once each, if any PIN is in that status (which
    PIN: ``final_try_pins`` and the tokens' PIN status in the details)."""
    statuses = {p.status for p in pins}
    pairs = (("pin_final_try", "final_try"), ("pin_count_low", "count_low"))
    return [code for code, status in pairs if status in statuses]


def classify(
    *,
    readers: list[ReaderState],
    card_reader: ReaderState | None,
    certificates: list[CertInfo],
    pins: list[PinStatus],
    now: dt.datetime,
    expiry_warning_days: int,
) -> Classification:
    """Pick exactly one state (see STATES) for what the agent found."""
    if not readers:
        return Classification("no_reader")
    if card_reader is None:
        return Classification("no_card")
    siths = [c for c in certificates if c.is_siths]
    if not siths:
        return Classification("not_a_siths_card", facts={"certificate_count": len(certificates)})
    card = card_facts(siths, pins, now)
    warnings = _pin_warnings(pins) + certificate_warnings(siths, card, now)
    return Classification(
        state_of(card, expiry_warning_days), card.base_state, warnings, card.facts
    )
