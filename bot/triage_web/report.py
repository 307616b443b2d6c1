"""What the bot could not answer, over the stored conversations of a period.

One pass over Rasa's ``events`` table (SQLite or PostgreSQL) reads, per conversation and
in order, the user messages (intent, masked text) and the actions and bot messages that
followed. Each message a person typed ends in one of:

* ``answered``: answered at once (an FAQ answer, a card action, small talk);
* ``asked``: the bot asked back "Menade du ...?" (``action_clarify`` with suggestions),
  and then the person picked a suggestion, "Inget av detta" (``/deny``) or wrote again;
* ``cannot``: the bot could not answer (``action_clarify`` without suggestions, or
  "Inget av detta" after a "Menade du ...?");
* ``declined``: outside the FAQ (``utter_out_of_scope``);
* ``handoff``: asked for a person or a lost card (``human_handoff``, ``lost_card``).

Feedback ("Var svaret till hjälp?", intents ``feedback_helpful`` and
``feedback_not_helpful`` sent by the widget) is counted per FAQ answer it followed.
Only the rows that decide an outcome are read: the user messages (their text taken from
the JSON in the database), the actions above and FAQ answers, and the "Menade du ...?"
messages (with their "Inget av detta" button; the message that says the bot cannot
answer has no buttons).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Dict, Iterable, List, Optional, Tuple

import sqlalchemy as sa

from bot.triage_web.conversations import EVENTS

CLARIFY = "action_clarify"
NONE_OF_THESE = "deny"
DECLINE_ACTION = "utter_out_of_scope"
HANDOFF_INTENTS = frozenset({"human_handoff", "lost_card"})
FEEDBACK = {"feedback_helpful": "helpful", "feedback_not_helpful": "not_helpful"}
#: A "Menade du ...?" message as stored: its last button is "Inget av detta" (/deny).
CLARIFY_MESSAGE = '%"buttons": [{%"payload": "/deny"%'
#: Rows fetched from the database at a time (a server-side cursor on PostgreSQL).
ROWS_PER_FETCH = 20_000
#: The only actions the outcomes depend on (the rules run them right after a message).
DECIDING_ACTIONS = (CLARIFY, "utter_out_of_scope")
FAQ_ANSWER_PREFIX = "utter_faq_"
OUTCOMES = ("answered", "asked", "cannot", "declined", "handoff")
#: The outcomes the report lists messages for.
NOT_ANSWERED = ("asked", "cannot", "declined", "handoff")


@dataclass
class Failed:
    """A typed message that did not get an answer at once."""

    text: str  # as stored (masked by the channel); masked again when grouped
    outcome: str
    intent: Optional[str]  # what the NLU thought
    picked: Optional[str] = None  # after "Menade du ...?": the intent picked, "deny" or None


@dataclass
class Report:
    start: dt.date
    end: dt.date  # inclusive
    conversations: int = 0
    outcomes: Counter = field(default_factory=Counter)
    per_day: Dict[dt.date, Counter] = field(default_factory=lambda: defaultdict(Counter))
    failed: List[Failed] = field(default_factory=list)
    picks: Counter = field(default_factory=Counter)  # after "Menade du ...?"
    feedback: Dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))

    @property
    def questions(self) -> int:
        return sum(self.outcomes.values())

    def share(self, outcome: str) -> float:
        return self.outcomes[outcome] / self.questions if self.questions else 0.0

    def days(self) -> List[dt.date]:
        n = (self.end - self.start).days + 1
        return [self.start + dt.timedelta(days=i) for i in range(max(n, 0))]


def _text_column(dialect: str) -> sa.sql.ColumnElement:
    if dialect == "postgresql":
        return sa.cast(EVENTS.c.data, sa.JSON)["text"].as_string()
    return sa.func.json_extract(EVENTS.c.data, "$.text")


def _rows(engine: sa.engine.Engine, start: float, end: float) -> Iterable[tuple]:
    is_user = EVENTS.c.type_name == "user"
    action_name = sa.column("action_name")
    query = (
        sa.select(
            EVENTS.c.sender_id, EVENTS.c.type_name, EVENTS.c.timestamp,
            sa.column("intent_name"), action_name,
            sa.case((is_user, _text_column(engine.dialect.name)), else_=None),
        )
        .select_from(EVENTS)
        .where(EVENTS.c.timestamp >= start, EVENTS.c.timestamp < end)
        .where(sa.or_(
            is_user,
            sa.and_(EVENTS.c.type_name == "bot", EVENTS.c.data.like(CLARIFY_MESSAGE)),
            sa.and_(EVENTS.c.type_name == "action",
                    sa.or_(action_name.in_(DECIDING_ACTIONS),
                           action_name.like(FAQ_ANSWER_PREFIX + "%"))),
        ))
        .order_by(EVENTS.c.sender_id, EVENTS.c.id)
    )
    with engine.connect() as connection, connection.begin():
        if engine.dialect.name == "postgresql":
            # Sort the period's rows in memory rather than on disk (this transaction only).
            connection.execute(sa.text("SET LOCAL work_mem = '64MB'"))
        result = connection.execution_options(stream_results=True).execute(query)
        for rows in result.partitions(ROWS_PER_FETCH):
            yield from rows


def _day(timestamp: float) -> dt.date:
    return _day_of_hour(int(timestamp // 3600))


@lru_cache(maxsize=4096)
def _day_of_hour(hour: int) -> dt.date:
    return dt.datetime.fromtimestamp(hour * 3600).date()


def build_report(engine: sa.engine.Engine, start: dt.date, end: dt.date) -> Report:
    """The report for the days ``start`` to ``end`` (inclusive, local time)."""
    report = Report(start, end)
    begin = dt.datetime.combine(start, dt.time()).timestamp()
    stop = dt.datetime.combine(end + dt.timedelta(days=1), dt.time()).timestamp()
    conversation: List[tuple] = []
    sender: Optional[str] = None
    try:
        for row in _rows(engine, begin, stop):
            if row[0] != sender:
                _read_conversation(conversation, report)
                conversation, sender = [], row[0]
            conversation.append(row)
    except sa.exc.OperationalError:  # nothing stored yet
        return report
    _read_conversation(conversation, report)
    return report


def _read_conversation(rows: List[tuple], report: Report) -> None:
    """One conversation's rows (sender, type, timestamp, intent, action, text)."""
    if not rows:
        return
    report.conversations += 1
    report.per_day[_day(rows[0][2])]["conversations"] += 1
    last_faq_answer: Optional[str] = None
    pending: Optional[Tuple[Failed, Counter]] = None  # asked back: what did the person do?
    for i, (_, type_name, timestamp, intent, action, text) in enumerate(rows):
        if type_name == "action" and action and action.startswith(FAQ_ANSWER_PREFIX):
            last_faq_answer = action
        if type_name != "user":
            continue
        text = text or ""
        if intent in FEEDBACK:
            if last_faq_answer:
                report.feedback[last_faq_answer][FEEDBACK[intent]] += 1
            continue
        if pending is not None:
            failed, day = pending
            failed.picked = intent if text.startswith("/") else None
            report.picks[failed.picked or "rewrote"] += 1
            if failed.picked == NONE_OF_THESE:
                failed.outcome = "cannot"
            _count(report, day, failed.outcome)
            pending = None
            if failed.picked:
                continue
        if text.startswith("/"):  # a button or the widget's start, not typed
            continue
        outcome, asked = _outcome(rows, i, intent)
        day = report.per_day[_day(timestamp)]
        if outcome == "answered":
            _count(report, day, outcome)
            continue
        failed = Failed(text, outcome, intent)
        report.failed.append(failed)
        if asked:
            pending = (failed, day)
        else:
            _count(report, day, outcome)
    if pending is not None:
        report.picks["left"] += 1
        _count(report, pending[1], pending[0].outcome)


def _count(report: Report, day: Counter, outcome: str) -> None:
    report.outcomes[outcome] += 1
    day[outcome] += 1


def _outcome(rows: List[tuple], i: int, intent: Optional[str]) -> Tuple[str, bool]:
    """How the typed message at ``rows[i]`` ended; True when the bot asked back."""
    if intent in HANDOFF_INTENTS:
        return "handoff", False
    for j in range(i + 1, len(rows)):
        _, type_name, _, _, action, _ = rows[j]
        if type_name == "user":
            break
        if type_name == "action" and action == DECLINE_ACTION:
            return "declined", False
        if type_name == "action" and action == CLARIFY:
            following = rows[j + 1] if j + 1 < len(rows) else None
            # Only "Menade du ...?" messages are read of the bot's (CLARIFY_MESSAGE).
            if following and following[1] == "bot":
                return "asked", True
            return "cannot", False
        if type_name == "action":
            return "answered", False
    return "answered", False
