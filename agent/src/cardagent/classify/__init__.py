"""Classify what is in the reader into one state, with a Swedish explanation and next step.

``facts.py`` decides (card type, profile, expiry, PIN counters, warnings), ``texts.py`` words
it (explanations, next steps from the region's upgrade FAQ, warnings).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from cardagent.certinfo import CertInfo
from cardagent.classify import texts
from cardagent.classify.facts import (
    CardFacts,
    PinStatus,
    card_facts,
    certificate_warnings,
    state_of,
)
from cardagent.classify.texts import NextStep, Warning
from cardagent.pcsc import ReaderState

STATES = (
    "no_reader",
    "no_card",
    "not_upgraded",
    "upgraded",
    "upgraded_with_old_restored",
    "replacement_level2",
    "expiring_soon",
    "expired",
    "pin_blocked",
    "not_a_siths_card",
)

__all__ = ["STATES", "Classification", "NextStep", "PinStatus", "Warning", "classify"]


@dataclass
class Classification:
    state: str
    explanation: str
    next_step: NextStep
    base_state: str | None = None
    warnings: list[Warning] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)


def _pin_warnings(pins: list[PinStatus]) -> list[Warning]:
    out = []
    for p in pins:
        if p.status == "final_try":
            out.append(texts.pin_final_try(p.role))
        elif p.status == "count_low":
            out.append(texts.pin_count_low(p.role, p.retries_left))
    return out


def _wording(
    state: str, card: CardFacts, now: dt.datetime, deadline: dt.date | None
) -> texts.Wording:
    """The explanation and next step of ``state`` for this card."""
    if state == "expired":
        return texts.expired(card.latest)
    if state == "pin_blocked":
        return texts.pin_blocked(card.blocked)
    if state == "expiring_soon":
        return texts.expiring_soon(
            card.days_left, card.earliest, upgradable=card.base_state == "not_upgraded"
        )
    if state == "not_upgraded":
        return texts.not_upgraded(deadline is not None and now.date() > deadline)
    if state == "replacement_level2":
        return texts.replacement_level2()
    if state == "upgraded_with_old_restored":
        return texts.upgraded_with_old_restored()
    return texts.upgraded(card.facts["certificate_profile"] == "authentication_only")


def classify(
    *,
    readers: list[ReaderState],
    card_reader: ReaderState | None,
    certificates: list[CertInfo],
    pins: list[PinStatus],
    now: dt.datetime,
    expiry_warning_days: int,
    upgrade_deadline: dt.date | None = None,
) -> Classification:
    """Pick exactly one state (see STATES) for what the agent found."""
    if not readers:
        return Classification("no_reader", *texts.no_reader())
    if card_reader is None:
        return Classification("no_card", *texts.no_card())
    siths = [c for c in certificates if c.is_siths]
    if not siths:
        explanation, step = texts.not_a_siths_card()
        return Classification(
            "not_a_siths_card", explanation, step, facts={"certificate_count": len(certificates)}
        )
    card = card_facts(siths, pins, now)
    warnings = _pin_warnings(pins)
    warnings += [texts.warning(code) for code in certificate_warnings(siths, card, now)]
    state = state_of(card, expiry_warning_days)
    explanation, step = _wording(state, card, now, upgrade_deadline)
    return Classification(state, explanation, step, card.base_state, warnings, card.facts)
