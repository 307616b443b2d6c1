"""What the chat says about a card: the card agent's facts and the site dates -> responses.

The agent reports only facts (``GET /v1/card/state``: ``state``, ``details`` with the card
type, expiry dates and PIN counters). This module is the one place that decides what the user
is told and offered for them, with the dates the FAQ page depends on (``site.yml``
``dates``): whether an old card may still be upgraded, and whether the FAQ's "uppgradera
eller vänta" choice applies. The chat's card actions (actions/card_check.py,
actions/card_upgrade.py) and the printed triage script (bot/triage_export.py) both call
:func:`explain_card`, so staff and users read the same responses from ``domain.yml``.
Pure data and functions: no rasa-sdk, no agent.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Protocol, Sequence, Tuple
from zoneinfo import ZoneInfo

from bot.site_config import swedish_date

UNKNOWN_STATE_RESPONSE = "utter_card_agent_error"

# Every state the agent reports (its CardStateName).
CARD_STATES: Tuple[str, ...] = (
    "no_reader",
    "no_card",
    "not_a_siths_card",
    "expired",
    "pin_blocked",
    "expiring_soon",
    "not_upgraded",
    "upgraded",
    "upgraded_with_old_restored",
    "eid_level2",
)

# States told without any fact from the card.
PLAIN_RESPONSES = {
    "no_reader": "utter_card_no_reader",
    "no_card": "utter_card_no_card",
    "not_a_siths_card": "utter_card_not_a_siths_card",
}
# The card type (details.base_state) -> response, for a card that may not be upgraded.
TYPE_RESPONSES = {
    "upgraded_with_old_restored": "utter_card_upgraded_with_old",
    "eid_level2": "utter_card_eid_level2",
}
# The agent's role of a PIN -> the name the responses use (the FAQ says "signering").
PIN_ROLES = {"legitimering": "legitimering", "underskrift": "signering"}
COMPLETE_PROFILE = "hsa_and_personnummer_pairs"


# Dates on the card are told as the day they fall on in Sweden.
LOCAL_TIME = ZoneInfo("Europe/Stockholm")


class SiteDates(Protocol):
    """The dates of ``site.yml`` the card's answer depends on (bot.site_config)."""

    upgrade_last_day: dt.date
    expiry_choice_before: dt.date

    def upgrade_open(self, today: dt.date) -> bool: ...


@dataclass(frozen=True)
class Utterance:
    """One response to say, with the values from the card it needs."""

    response: str
    values: Mapping[str, Any] = field(default_factory=dict)


def role_key(roles: Sequence[str]) -> str:
    """Which PIN(s) a response is about: legitimering, signering, both or unknown."""
    keys = {PIN_ROLES.get(r, "unknown") for r in roles}
    if keys == {"legitimering", "signering"}:
        return "both"
    if len(keys) == 1 and "unknown" not in keys:
        return keys.pop()
    return "unknown"


def _date(value: Any) -> Optional[dt.date]:
    if not isinstance(value, str) or not value:
        return None
    try:
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (when.astimezone(LOCAL_TIME) if when.tzinfo else when).date()


def expiry_of(details: Mapping[str, Any]) -> Optional[dt.date]:
    """The first expiry among the certificates that define the card type."""
    return _date(details.get("earliest_expiry"))


def _with_date(response: str, when: Optional[dt.date]) -> Utterance:
    if when is None:  # the agent did not say: not told as if it had
        return Utterance(UNKNOWN_STATE_RESPONSE)
    return Utterance(response, {"expiry_date": swedish_date(when)})


def card_type(answer: Mapping[str, Any]) -> Optional[str]:
    """What the certificates make the card (the agent's base_state), whatever else holds."""
    details = answer.get("details") or {}
    return details.get("base_state") or answer.get("state")


def can_be_upgraded(answer: Mapping[str, Any], dates: SiteDates, today: dt.date) -> bool:
    """A card with only the old certificates, nothing else wrong with it, within the
    upgrade window (site.yml ``upgrade_last_day``). Whether it is the person's ordinary
    card, not a reservkort, the upgrade form asks."""
    return (
        answer.get("state") in ("not_upgraded", "expiring_soon")
        and card_type(answer) == "not_upgraded"
        and dates.upgrade_open(today)
    )


def _old_card(details: Mapping[str, Any], dates: SiteDates, today: dt.date) -> Utterance:
    """A card with only the old certificates: past the last day a new card is needed; a
    card that expires before the FAQ's cut-off gets the choice; else the upgrade."""
    if not dates.upgrade_open(today):
        return Utterance("utter_card_not_upgraded_too_late")
    expiry = expiry_of(details)
    if expiry is not None and expiry < dates.expiry_choice_before:
        return _with_date("utter_card_not_upgraded_choice", expiry)
    return Utterance("utter_card_not_upgraded")


def _card_type_utterance(
    answer: Mapping[str, Any], dates: SiteDates, today: dt.date
) -> Utterance:
    state, details, kind = answer.get("state"), answer.get("details") or {}, card_type(answer)
    if kind == "not_upgraded":
        return _old_card(details, dates, today)
    if state == "expiring_soon":
        return _with_date("utter_card_expiring_soon", expiry_of(details))
    if kind == "upgraded":
        complete = details.get("certificate_profile") in (None, COMPLETE_PROFILE)
        return Utterance("utter_card_upgraded" if complete else "utter_card_upgraded_incomplete")
    return Utterance(TYPE_RESPONSES.get(str(kind), UNKNOWN_STATE_RESPONSE))


def explain_card(answer: Mapping[str, Any], dates: SiteDates, today: dt.date) -> List[Utterance]:
    """The responses that tell the user what the agent read from their card."""
    state, details = answer.get("state"), answer.get("details") or {}
    if state not in CARD_STATES:
        return [Utterance(UNKNOWN_STATE_RESPONSE)]
    if state in PLAIN_RESPONSES:
        return [Utterance(PLAIN_RESPONSES[state])]
    if state == "expired":
        when = _date(details.get("latest_expiry")) or expiry_of(details)
        return [_with_date("utter_card_expired", when)]
    if state == "pin_blocked":
        if card_type(answer) == "not_upgraded" and not dates.upgrade_open(today):
            # New codes would not help: an old card past the last day needs a new card.
            return [Utterance("utter_card_not_upgraded_too_late")]
        return [Utterance(f"utter_card_pin_blocked_{role_key(details.get('blocked_pins') or [])}")]
    said = [_card_type_utterance(answer, dates, today)]
    final_try = details.get("final_try_pins") or []
    if final_try:
        said.append(Utterance(f"utter_card_pin_final_try_{role_key(final_try)}"))
    return said


# --- every case, for the triage script and the tests ------------------------------------


@dataclass(frozen=True)
class CardCase:
    """One way a card can be told: an agent answer and the day it is read on."""

    key: str
    answer: Dict[str, Any]
    today: dt.date


def _answer(state: str, **details: Any) -> Dict[str, Any]:
    return {"state": state, "details": details}


def _iso(day: dt.date) -> str:
    return dt.datetime.combine(day, dt.time(12), dt.UTC).isoformat()


def card_cases(dates: SiteDates) -> List[CardCase]:
    """One case for every response explain_card can give, in the order staff read them."""
    today = min(dates.expiry_choice_before, dates.upgrade_last_day) - dt.timedelta(days=60)
    far = _iso(dates.upgrade_last_day + dt.timedelta(days=3 * 365))
    soon = _iso(today + dt.timedelta(days=30))
    old, new = {"base_state": "not_upgraded"}, {"base_state": "upgraded", "earliest_expiry": far}
    cases = [
        CardCase("no_reader", _answer("no_reader"), today),
        CardCase("no_card", _answer("no_card"), today),
        CardCase("not_a_siths_card", _answer("not_a_siths_card"), today),
        CardCase("expired", _answer("expired", base_state="upgraded",
                                    latest_expiry=_iso(today - dt.timedelta(days=20))), today),
    ]
    for roles, key in ((["legitimering"], "legitimering"), (["underskrift"], "signering"),
                       (["legitimering", "underskrift"], "both"), ([], "unknown")):
        cases.append(CardCase(f"pin_blocked_{key}",
                              _answer("pin_blocked", base_state="upgraded", blocked_pins=roles),
                              today))
    late = dates.upgrade_last_day + dt.timedelta(days=1)
    cases += [
        CardCase("pin_blocked_old_card_too_late",
                 _answer("pin_blocked", **old, blocked_pins=["legitimering"]), late),
        CardCase("not_upgraded", _answer("not_upgraded", **old, earliest_expiry=far), today),
        CardCase("not_upgraded_choice",
                 _answer("expiring_soon", **old, earliest_expiry=soon), today),
        CardCase("not_upgraded_too_late", _answer("not_upgraded", **old, earliest_expiry=far),
                 late),
        CardCase("expiring_soon", _answer("expiring_soon", base_state="upgraded",
                                          earliest_expiry=soon), today),
        CardCase("upgraded", _answer("upgraded", **new, certificate_profile=COMPLETE_PROFILE),
                 today),
        CardCase("upgraded_incomplete",
                 _answer("upgraded", **new, certificate_profile="hsa_id_only"), today),
        CardCase("upgraded_with_old_restored",
                 _answer("upgraded_with_old_restored", base_state="upgraded_with_old_restored",
                         earliest_expiry=far), today),
        CardCase("eid_level2", _answer("eid_level2", base_state="eid_level2",
                                       earliest_expiry=far), today),
    ]
    for roles, key in ((["legitimering"], "legitimering"), (["underskrift"], "signering"),
                       (["legitimering", "underskrift"], "both"), ([], "unknown")):
        cases.append(CardCase(f"final_try_{key}",
                              _answer("upgraded", **new, certificate_profile=COMPLETE_PROFILE,
                                      final_try_pins=roles or ["okänd"]), today))
    return cases
