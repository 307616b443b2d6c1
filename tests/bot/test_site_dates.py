"""The FAQ's dates as site settings: read from site.yml, written with the year, overridden
from the environment (never by editing the file), and a bad date is a clear error."""

from datetime import date
from pathlib import Path

import pytest

from bot.site_config import (
    ENV_VAR,
    REPO_ROOT,
    SiteConfigError,
    SiteDates,
    load_site_config,
    swedish_date,
)

SITE_YML = REPO_ROOT / "site.yml"


@pytest.fixture(autouse=True)
def site_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The repository's site.yml with its own dates, outside production."""
    for name in (*SiteDates.env_names().values(), ENV_VAR, "SITE_CONFIG"):
        monkeypatch.delenv(name, raising=False)


def with_dates(tmp_path: Path, **dates: str) -> Path:
    """site.yml with some of its dates replaced (the text after the key, as written)."""
    text = SITE_YML.read_text(encoding="utf-8")
    for key, value in dates.items():
        lines = text.splitlines(keepends=True)
        hits = [i for i, line in enumerate(lines) if line.startswith(f"  {key}:")]
        assert len(hits) == 1, key
        lines[hits[0]] = f"  {key}: {value}\n"
        text = "".join(lines)
    path = tmp_path / "site.yml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_example_site_keeps_the_faq_pages_own_dates():
    dates = load_site_config().dates
    assert dates.upgrade_last_day == date(2020, 12, 31)  # "efter 2020"
    assert dates.expiry_choice_before == date(2020, 11, 30)  # "före den 30 november i år"
    assert dates.assurance_level3_required_from == date(2020, 7, 1)  # "från och med den 1 juli"


def test_each_date_quotes_the_faq_sentence_it_comes_from():
    comments = " ".join(line.strip().lstrip("# ") for line in
                        SITE_YML.read_text(encoding="utf-8").splitlines())
    for sentence in ("Kan uppgradering av kort göras efter 2020?",
                     "Om ditt SITHS-kort går ut före den 30 november i år",
                     "E-hälsomyndigheten ställer från och med den 1 juli krav"):
        assert sentence in comments, sentence


@pytest.mark.parametrize("day, text", [
    (date(2020, 12, 31), "31 december 2020"),
    (date(2020, 7, 1), "1 juli 2020"),
    (date(2027, 3, 5), "5 mars 2027"),
    (date(2021, 1, 9), "9 januari 2021"),
    (date(2024, 5, 31), "31 maj 2024"),
    (date(2026, 8, 15), "15 augusti 2026"),
])
def test_swedish_date_has_no_leading_zero_a_lowercase_month_and_the_year(day, text):
    assert swedish_date(day) == text


def test_template_values_give_the_dates_as_sentences_write_them():
    values = load_site_config().template_values()
    assert values["upgrade_last_day"] == "31 december 2020"
    assert values["upgrade_last_year"] == "2020"
    assert values["expiry_choice_before"] == "30 november 2020"
    assert values["expiry_choice_year"] == "2020"
    assert values["assurance_level3_required_from"] == "1 juli 2020"


def test_quoted_iso_dates_in_the_file_are_dates_too(tmp_path):
    path = with_dates(tmp_path, upgrade_last_day='"2027-03-31"')
    assert load_site_config(path).dates.upgrade_last_day == date(2027, 3, 31)


def test_the_environment_wins_over_the_file(monkeypatch):
    monkeypatch.setenv("SITE_UPGRADE_LAST_DAY", "2099-12-31")
    monkeypatch.setenv("SITE_EXPIRY_CHOICE_BEFORE", "2099-11-30")
    monkeypatch.setenv("SITE_ASSURANCE_LEVEL3_REQUIRED_FROM", "2099-07-01")
    site = load_site_config()
    assert site.dates.upgrade_last_day == date(2099, 12, 31)
    assert site.dates.expiry_choice_before == date(2099, 11, 30)
    assert site.dates.assurance_level3_required_from == date(2099, 7, 1)
    values = site.template_values()
    assert values["upgrade_last_day"] == "31 december 2099"
    assert values["upgrade_last_year"] == "2099"
    assert values["expiry_choice_year"] == "2099"


def test_one_override_leaves_the_other_dates_to_the_file(monkeypatch):
    monkeypatch.setenv("SITE_UPGRADE_LAST_DAY", "2099-12-31")
    dates = load_site_config().dates
    assert dates.upgrade_last_day == date(2099, 12, 31)
    assert dates.expiry_choice_before == date(2020, 11, 30)


def test_the_cached_settings_follow_the_environment(monkeypatch):
    assert load_site_config().dates.upgrade_last_day == date(2020, 12, 31)
    monkeypatch.setenv("SITE_UPGRADE_LAST_DAY", "2030-06-30")
    assert load_site_config().dates.upgrade_last_day == date(2030, 6, 30)
    monkeypatch.delenv("SITE_UPGRADE_LAST_DAY")
    assert load_site_config().dates.upgrade_last_day == date(2020, 12, 31)
    assert load_site_config() is load_site_config()  # still read once per setting


def test_the_declared_environment_variables():
    assert SiteDates.env_names() == {
        "upgrade_last_day": "SITE_UPGRADE_LAST_DAY",
        "expiry_choice_before": "SITE_EXPIRY_CHOICE_BEFORE",
        "assurance_level3_required_from": "SITE_ASSURANCE_LEVEL3_REQUIRED_FROM",
    }


@pytest.mark.parametrize("value", ["2099", "31.12.2099", "2099-02-30", "20991231", "", "tomorrow"])
def test_a_bad_date_in_the_environment_is_a_clear_error(monkeypatch, value):
    monkeypatch.setenv("SITE_UPGRADE_LAST_DAY", value)
    with pytest.raises(SiteConfigError) as caught:
        load_site_config()
    message = str(caught.value)
    assert "dates.upgrade_last_day" in message
    assert "YYYY-MM-DD" in message
    assert "SITE_UPGRADE_LAST_DAY" in message  # says where the bad value came from


@pytest.mark.parametrize("value", ["2020-13-01", "december 2020", "2020-12-31 12:00:00", "[]"])
def test_a_bad_date_in_the_file_is_a_clear_error(tmp_path, value):
    path = with_dates(tmp_path, expiry_choice_before=value)
    with pytest.raises(SiteConfigError) as caught:
        load_site_config(path)
    message = str(caught.value)
    assert str(path) in message and "dates.expiry_choice_before" in message
    assert "SITE_" not in message
