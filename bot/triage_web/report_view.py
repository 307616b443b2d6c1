"""The report for the page and the file: the period asked for, the report and its groups
computed once per period and kept briefly, and the Swedish names the template shows."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

import sqlalchemy as sa

from actions.clarify import NONE_OF_THESE as NONE_OF_THESE_RESPONSE
from actions.responses import response_text
from bot.triage import domain_responses, intent_title
from bot.triage_web.report import NONE_OF_THESE, Report, build_report
from bot.triage_web.report_groups import Group, group_failed

DEFAULT_DAYS = 7
MAX_DAYS = 366
KEEP_SECONDS = 60.0
OUTCOME_NAMES = {
    "answered": "Besvarade direkt",
    "asked": "Frågade ”Menade du …?”",
    "cannot": "Kunde inte svara",
    "declined": "Avböjde (gällde inte SITHS-kortet)",
    "handoff": "Hänvisade till Servicecenter",
}
PICK_NAMES = {"rewrote": "Skrev något annat", "left": "Lämnade chatten"}


class PeriodError(ValueError):
    """A period the report cannot show (the message is for the agent, in Swedish)."""


def period(start: Optional[str], end: Optional[str],
           today: Optional[dt.date] = None) -> Tuple[dt.date, dt.date]:
    today = today or dt.date.today()
    try:
        last = dt.date.fromisoformat(end) if end else today
        first = dt.date.fromisoformat(start) if start else last - dt.timedelta(
            days=DEFAULT_DAYS - 1)
    except ValueError as e:
        raise PeriodError("Skriv datumen som ÅÅÅÅ-MM-DD.") from e
    if first > last:
        raise PeriodError("Från-datumet får inte vara senare än till-datumet.")
    if (last - first).days >= MAX_DAYS:
        raise PeriodError(f"Välj en period på högst {MAX_DAYS} dagar.")
    return first, last


def pick_name(key: str) -> str:
    """What people did after "Menade du ...?": a suggestion's title, the bot's own words
    for "Inget av detta", or wrote again / left."""
    if key == NONE_OF_THESE:
        return response_text(domain_responses(), NONE_OF_THESE_RESPONSE)
    return PICK_NAMES.get(key) or intent_title(key)


def answer_name(response: str) -> str:
    return intent_title(response.removeprefix("utter_"))


@dataclass
class Computed:
    report: Report
    groups: List[Group]
    seconds: float  # both
    grouping_seconds: float
    at: float


def report_values(computed: Computed, first: dt.date, last: dt.date, plot_url: str,
                  group_url: Callable[[int], str]) -> Dict[str, Any]:
    """What ``report.html`` shows, for the page and for ``make report``'s file."""
    return {
        "first": first, "last": last, "report": computed.report, "groups": computed.groups,
        "seconds": computed.seconds, "plot_url": plot_url, "group_url": group_url,
        "outcome_names": OUTCOME_NAMES, "pick_name": pick_name, "answer_name": answer_name,
    }


class ReportCache:
    """Reports per period, recomputed when older than :data:`KEEP_SECONDS`."""

    def __init__(self, engine: sa.engine.Engine) -> None:
        self.engine = engine
        self._kept: Dict[Tuple[dt.date, dt.date], Computed] = {}

    def get(self, first: dt.date, last: dt.date) -> Computed:
        kept = self._kept.get((first, last))
        if kept and time.monotonic() - kept.at < KEEP_SECONDS:
            return kept
        began = time.perf_counter()
        report = build_report(self.engine, first, last)
        grouping = time.perf_counter()
        groups = group_failed(report.failed)
        done = time.perf_counter()
        kept = Computed(report, groups, done - began, done - grouping, time.monotonic())
        if len(self._kept) >= 8:
            self._kept.pop(next(iter(self._kept)))
        self._kept[(first, last)] = kept
        return kept
