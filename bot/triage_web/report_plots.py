"""The report's picture: per day, the conversations (bars) and the share of questions
answered at once, asked back and handed off (lines), as SVG (matplotlib)."""

from __future__ import annotations

import datetime as dt
import io

import matplotlib

matplotlib.use("Agg")
matplotlib.rcParams["svg.fonttype"] = "none"  # text stays text: smaller, searchable

from matplotlib import dates as mdates  # noqa: E402 - after choosing the backend
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import PercentFormatter  # noqa: E402

from bot.triage_web.report import Report  # noqa: E402

SERIES = (("answered", "Besvarade direkt", "#1b7f3b"),
          ("asked", "Frågade ”Menade du …?”", "#b35c00"),
          ("handoff", "Hänvisade till Servicecenter", "#8a1c1c"))


def day_plot_svg(report: Report) -> str:
    days = report.days()
    figure = Figure(figsize=(9, 5.2))
    top, bottom = figure.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [1, 1.4]})
    top.bar(days, [report.per_day[d]["conversations"] for d in days], color="#00506e")
    top.set_ylabel("Chattar")
    top.set_title("Per dag")
    for outcome, label, colour in SERIES:
        shares = []
        for d in days:
            asked = sum(report.per_day[d][o] for o in ("answered", "asked", "cannot",
                                                       "declined", "handoff"))
            shares.append(report.per_day[d][outcome] / asked if asked else float("nan"))
        bottom.plot(days, shares, marker="o", label=label, color=colour)
    bottom.yaxis.set_major_formatter(PercentFormatter(1.0))
    bottom.set_ylim(0, 1)
    bottom.set_ylabel("Andel av frågorna")
    bottom.legend(loc="upper left", fontsize="small")
    for axis in (top, bottom):
        axis.grid(axis="y", alpha=0.3)
    bottom.xaxis.set_major_locator(mdates.DayLocator(interval=max(1, len(days) // 10)))
    bottom.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d"))
    bottom.set_xlim(days[0] - dt.timedelta(days=0.6), days[-1] + dt.timedelta(days=0.6))
    figure.autofmt_xdate()
    figure.tight_layout()
    out = io.StringIO()
    figure.savefig(out, format="svg", metadata={"Date": None})
    return out.getvalue()
