"""The report over a recorded set of conversations stored by Rasa's own SQL store:
known counts per outcome and per day, the suggestions picked after "Menade du ...?", the
feedback per answer, groups of similar messages and their YAML snippets."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
import yaml

from bot.triage_web.report import build_report
from bot.triage_web.report_groups import Group, group_failed, group_yaml
from bot.triage_web.report_plots import day_plot_svg
from bot.triage_web.report_view import PeriodError, period
from tests.support.recorded import (
    DAY_1,
    DAY_2,
    RECORDED_COUNTS,
    RECORDED_FEEDBACK,
    RECORDED_PICKS,
    recorded_set,
    save_with_rasa,
)


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "tracker.db"
    save_with_rasa(str(path), recorded_set())
    return sa.create_engine(f"sqlite:///{path}")


def test_known_counts(engine):
    report = build_report(engine, DAY_1, DAY_2)
    counts = {"conversations": report.conversations, "questions": report.questions,
              **{k: report.outcomes[k] for k in ("answered", "asked", "cannot", "declined",
                                                 "handoff")}}
    assert counts == RECORDED_COUNTS
    assert dict(report.picks) == RECORDED_PICKS
    assert {k: dict(v) for k, v in report.feedback.items()} == RECORDED_FEEDBACK
    assert report.per_day[DAY_1]["conversations"] == 3
    assert report.per_day[DAY_2]["conversations"] == 3
    assert report.per_day[DAY_1]["declined"] == 1 and report.per_day[DAY_2]["handoff"] == 1


def test_the_period_limits_what_is_counted(engine):
    report = build_report(engine, DAY_2, DAY_2)
    assert report.conversations == 3
    assert report.outcomes["declined"] == 0
    assert build_report(engine, dt.date(2026, 10, 1), dt.date(2026, 10, 2)).questions == 0


def test_an_empty_store_gives_an_empty_report(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'none.db'}")
    assert build_report(engine, DAY_1, DAY_2).questions == 0


def test_similar_messages_are_grouped_and_exported(engine):
    groups = group_failed(build_report(engine, DAY_1, DAY_2).failed)
    strular = [g for g in groups if "kortet strular med certet" in g.texts]
    assert len(strular) == 1 and "certet strular igen" in strular[0].texts
    assert strular[0].count == 2
    lunch = next(g for g in groups if "Vad blir det för lunch i dag?" in g.texts)
    assert "certet strular igen" not in lunch.texts
    snippet = yaml.safe_load(group_yaml(strular[0], "2026-11-02 to 2026-11-03"))
    assert snippet["nlu"][0]["intent"] == "faq_hjalp_nedladdning"  # what people picked
    examples = snippet["nlu"][0]["examples"].splitlines()
    assert sorted(examples) == ["- certet strular igen", "- kortet strular med certet"]
    assert yaml.safe_load(group_yaml(lunch, "p"))["nlu"][0]["intent"] == "out_of_scope"
    assert [g.number for g in groups] == list(range(1, len(groups) + 1))


def test_a_group_without_a_label_says_so():
    from bot.triage_web.report import Failed

    group = group_failed([Failed("blä: - [x]", "cannot", "nlu_fallback")])[0]
    text = group_yaml(group, "p")
    assert "CHOOSE_AN_INTENT" in text and "No intent is suggested" in text
    assert yaml.safe_load(text)["nlu"][0]["examples"] == "- blä: - [x]\n"
    assert isinstance(group, Group)


def test_the_day_plot_is_an_svg(engine):
    svg = day_plot_svg(build_report(engine, DAY_1, DAY_2))
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert "Chattar" in svg and "Besvarade direkt" in svg  # text, not paths


@pytest.mark.parametrize("start,end,message", [
    ("2026-13-01", None, "ÅÅÅÅ-MM-DD"),
    ("2026-11-05", "2026-11-01", "senare än till-datumet"),
    ("2020-01-01", "2026-11-01", "högst"),
])
def test_bad_periods_get_a_swedish_message(start, end, message):
    with pytest.raises(PeriodError, match=message):
        period(start, end)


def test_the_default_period_is_the_last_week():
    assert period(None, None, today=dt.date(2026, 12, 1)) == (dt.date(2026, 11, 25),
                                                               dt.date(2026, 12, 1))


def test_make_report_writes_the_page_the_picture_and_the_groups(engine, tmp_path):
    from bot.triage_web.report_file import write_report

    page = write_report(engine, DAY_1.isoformat(), DAY_2.isoformat(), tmp_path / "report")
    html = page.read_text(encoding="utf-8")
    assert 'data-key="questions">10<' in html and 'src="diagram.svg"' in html
    assert "/static/" not in html and "<form" not in html  # a file: no page furniture
    assert (tmp_path / "report" / "diagram.svg").read_text().lstrip().startswith("<?xml")
    groups = sorted((tmp_path / "report").glob("grupp-*.yml"))
    assert groups and all(yaml.safe_load(g.read_text())["nlu"] for g in groups)
