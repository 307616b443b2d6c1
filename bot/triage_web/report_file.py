"""``make report``: the triage page's report as files, for a period (default the last
seven days): ``report.html`` (the same template as the page), ``diagram.svg`` and one
``grupp-N.yml`` per group, reading the conversation store the page reads
(``TRIAGE_TRACKER_DB_URL``, default the bot's SQLite file).

    python -m bot.triage_web.report_file [--from 2026-11-01] [--to 2026-11-30] [--out dist/report]
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import List, Optional

import sqlalchemy as sa
from jinja2 import Environment, FileSystemLoader, select_autoescape

from bot.triage_web.report_groups import group_yaml
from bot.triage_web.report_plots import day_plot_svg
from bot.triage_web.report_view import PeriodError, ReportCache, period, report_values
from bot.triage_web.settings import TriageWebSettings

HERE = Path(__file__).resolve().parent


def write_report(engine: sa.engine.Engine, first: str | None, last: str | None,
                 out: Path) -> Path:
    start, end = period(first, last)
    computed = ReportCache(engine).get(start, end)
    out.mkdir(parents=True, exist_ok=True)
    (out / "diagram.svg").write_text(day_plot_svg(computed.report), encoding="utf-8")
    for group in computed.groups:
        (out / f"grupp-{group.number}.yml").write_text(
            group_yaml(group, f"{start} to {end}"), encoding="utf-8")
    shutil.copyfile(HERE / "static" / "triage.css", out / "triage.css")
    templates = Environment(loader=FileSystemLoader(HERE / "templates"),
                            autoescape=select_autoescape(["html"]))
    html = templates.get_template("report.html").render(
        standalone=True, static_url="", **report_values(
            computed, start, end, plot_url="diagram.svg",
            group_url=lambda number: f"grupp-{number}.yml"))
    page = out / "report.html"
    page.write_text(html, encoding="utf-8")
    return page


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="The triage report as files.")
    parser.add_argument("--from", dest="first", help="first day, YYYY-MM-DD")
    parser.add_argument("--to", dest="last", help="last day, YYYY-MM-DD (default today)")
    parser.add_argument("--out", type=Path, default=Path("dist") / "report")
    args = parser.parse_args(argv)
    engine = sa.create_engine(TriageWebSettings().tracker_db_url)
    try:
        page = write_report(engine, args.first or None, args.last or None, args.out)
    except PeriodError as e:
        print(e, file=sys.stderr)
        return 2
    print(f"Rapporten: {page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
