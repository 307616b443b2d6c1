"""The triage report at region scale: 100 000 stored conversations in PostgreSQL (a
throwaway local cluster), over 30 days, made of the recorded kinds of turn
(tests/support/recorded.py) with varied wording; how long the report, its groups and its
picture take, as the page computes them (bot.triage_web.report_view.ReportCache).

    .venv/bin/python benchmarks/bench_report.py [--conversations 100000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import random
import sys
import time
from pathlib import Path
from typing import Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402

from benchmarks.common import table, write_results  # noqa: E402
from bot.triage_web.report_plots import day_plot_svg  # noqa: E402
from bot.triage_web.report_view import ReportCache  # noqa: E402
from tests.support import recorded as rec  # noqa: E402
from tests.support.local_stack import postgres_server  # noqa: E402

DAYS = 30
FAQ = ["faq_puk_kostnad", "faq_bestall_puk", "faq_vad_ska_jag_gora", "faq_hjalp_nedladdning",
       "faq_vad_behovs", "faq_tappat_koder"]
VAGUE = ["kortet strular {n}", "certet funkar inte {n}", "hur gör jag med det där {n}",
         "det blir fel när jag loggar in {n}", "inget händer på sidan {n}"]
OFF = ["vad blir det för lunch {n}", "hur söker jag semester {n}", "wifi-koden {n}",
       "min lön är fel {n}"]


def conversation(clock: rec.Clock, rnd: random.Random) -> List:
    events = rec.start(clock)
    for _ in range(rnd.choice((1, 1, 2, 3))):
        kind = rnd.random()
        n = rnd.randrange(400)  # varied wording, as people write
        if kind < 0.70:
            intent = rnd.choice(FAQ)
            events += rec.faq(clock, f"fråga om {intent} {n}", intent)
            if rnd.random() < 0.1:
                events += rec.feedback(clock, rnd.random() < 0.8)
        elif kind < 0.82:
            events += rec.asked(clock, rnd.choice(VAGUE).format(n=n), FAQ[:2])
            after = rnd.random()
            if after < 0.6:
                events += rec.picked(clock, rnd.choice(FAQ[:2]))
            elif after < 0.8:
                events += rec.none_of_these(clock)
        elif kind < 0.92:
            events += rec.declined(clock, rnd.choice(OFF).format(n=n))
        elif kind < 0.97:
            events += rec.handoff(clock, f"jag vill prata med en människa {n}")
        else:
            events += rec.cannot(clock, f"blä {n}")
    return events


def fill(pg, conversations: int, first: dt.date) -> int:
    """Rasa's own table (created by its SQL store), then the rows by COPY."""
    import psycopg2
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.domain import Domain

    store = SQLTrackerStore(Domain.load("domain.yml"), dialect="postgresql", host=pg.host,
                            port=pg.port, db=pg.db, username=pg.user, password="")
    store.engine.dispose()
    rnd = random.Random(14)
    buffer, rows = io.StringIO(), 0
    for i in range(conversations):
        day = first + dt.timedelta(days=i * DAYS // conversations)
        clock = rec.at(day, 7 + rnd.randrange(10))
        for row in rec.event_rows(f"bench-{i}", conversation(clock, rnd)):
            buffer.write("\t".join(_copy_value(v) for v in row) + "\n")
            rows += 1
    buffer.seek(0)
    with psycopg2.connect(host=pg.host, port=pg.port, user=pg.user, dbname=pg.db) as conn:
        with conn.cursor() as cur:
            cur.copy_expert("COPY events (sender_id, type_name, timestamp, intent_name, "
                            "action_name, data) FROM STDIN", buffer)
            cur.execute("ANALYZE events")
    return rows


def _copy_value(value) -> str:
    if value is None:
        return "\\N"
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--conversations", type=int, default=100_000)
    args = parser.parse_args()
    first = dt.date(2026, 10, 1)
    last = first + dt.timedelta(days=DAYS - 1)
    with postgres_server() as pg:
        began = time.perf_counter()
        rows = fill(pg, args.conversations, first)
        filled = time.perf_counter() - began
        engine = sa.create_engine(f"postgresql://{pg.user}@{pg.host}:{pg.port}/{pg.db}")
        runs: List[Dict[str, float]] = []
        for _ in range(3):
            cache = ReportCache(engine)
            began = time.perf_counter()
            computed = cache.get(first, last)
            report_s = time.perf_counter() - began
            began = time.perf_counter()
            day_plot_svg(computed.report)
            plot_s = time.perf_counter() - began
            runs.append({"report_and_groups_s": round(report_s, 2),
                         "of_which_grouping_s": round(computed.grouping_seconds, 2),
                         "plot_s": round(plot_s, 2)})
        report = computed.report
    best = min(runs, key=lambda r: r["report_and_groups_s"])
    result = {
        "conversations": report.conversations,
        "questions": report.questions,
        "event_rows": rows,
        "days": DAYS,
        "groups": len(computed.groups),
        "fill_s": round(filled, 1),
        "runs": runs,
        "best": best,
    }
    path = write_results("report", result)
    print(table([
        ["measure", "value"],
        ["conversations in PostgreSQL", str(report.conversations)],
        ["event rows", str(rows)],
        ["questions in the report", str(report.questions)],
        ["groups", str(len(computed.groups))],
        ["report + groups (best of 3)", f"{best['report_and_groups_s']} s"],
        ["of which grouping", f"{best['of_which_grouping_s']} s"],
        ["all three runs", ", ".join(f"{r['report_and_groups_s']} s" for r in runs)],
        ["picture (SVG)", f"{best['plot_s']} s"],
    ]))
    print(f"\nWritten to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
