"""The report page in Chromium over the recorded conversations: the agent picks the
period, reads the known counts and the picture, opens a group and downloads its YAML."""

from __future__ import annotations

import pytest
import yaml
from playwright.sync_api import expect

from tests.support.browser import new_page
from tests.support.recorded import DAY_1, DAY_2, RECORDED_COUNTS
from tests.triage_web.test_triage_page import screenshot, sign_in

pytestmark = pytest.mark.stack


@pytest.fixture
def lead_page(browser):  # noqa: ANN001, ANN201 - a Playwright Page
    page = new_page(browser, viewport={"width": 1280, "height": 900}, accept_downloads=True)
    yield page
    page.context.close()


def test_the_report_shows_the_recorded_counts(lead_page, recorded_triage):
    page = lead_page
    sign_in(page, recorded_triage.url, recorded_triage.token)
    page.get_by_role("link", name="Rapport").click()
    page.get_by_label("Från", exact=True).fill(DAY_1.isoformat())
    page.get_by_label("Till", exact=True).fill(DAY_2.isoformat())
    page.get_by_role("button", name="Visa").click()

    for key, count in RECORDED_COUNTS.items():
        expect(page.locator(f'td[data-key="{key}"]')).to_have_text(str(count))
    plot = page.get_by_role("img", name="Per dag")
    expect(plot).to_be_visible()
    page.wait_for_function("document.querySelector('img.plot').naturalWidth > 0")

    picks = page.get_by_role("table").filter(
        has=page.get_by_role("columnheader", name="Val", exact=True))
    expect(picks.get_by_role("row", name="Inget av detta 1")).to_be_visible()
    expect(picks.get_by_role("row", name="Skrev något annat 1")).to_be_visible()
    feedback = page.locator('tr[data-answer="utter_faq_puk_kostnad"] td')
    expect(feedback.nth(1)).to_have_text("1")
    expect(feedback.nth(2)).to_have_text("1")

    group = page.locator("details.group", has_text="kortet strular med certet")
    group.locator("summary").click()
    expect(group).to_contain_text("certet strular igen")
    with page.expect_download() as download:
        group.get_by_role("link", name="Exportera som YAML").click()
    snippet = yaml.safe_load(download.value.path().read_text(encoding="utf-8"))
    assert snippet["nlu"][0]["intent"] == "faq_hjalp_nedladdning"
    screenshot(page, "report.png")


def test_a_bad_period_gets_a_swedish_message(lead_page, recorded_triage):
    page = lead_page
    sign_in(page, recorded_triage.url, recorded_triage.token)
    page.goto(f"{recorded_triage.url}/rapport")
    page.get_by_label("Från", exact=True).fill(DAY_2.isoformat())
    page.get_by_label("Till", exact=True).fill(DAY_1.isoformat())
    page.get_by_role("button", name="Visa").click()
    expect(page.get_by_role("alert")).to_have_text(
        "Från-datumet får inte vara senare än till-datumet.")
