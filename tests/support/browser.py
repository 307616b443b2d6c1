"""Debian's Chromium driven by Playwright, for the widget tests and the agent-page tests:
both venvs use these fixtures (import them into a conftest)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"


# Module scope: Playwright's sync API keeps an event loop running in this thread
# while it is started, which would break asyncio.run() in tests that run later.
@pytest.fixture(scope="module")
def browser():  # noqa: ANN201 - a Playwright Browser
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: `make test` installs it (deps/test/widget.txt)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


def new_page(browser, **context_options):  # noqa: ANN001, ANN201 - a Playwright Page
    """A page in a new browser context (Swedish, 1280 wide unless ``context_options`` say
    otherwise) that collects the page's script errors in ``page.errors``."""
    options = {"viewport": {"width": 1280, "height": 800}, "locale": "sv-SE",
               **context_options}
    page = browser.new_context(**options).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors
    return page


@pytest.fixture
def page(browser):  # noqa: ANN001, ANN201 - a Playwright Page with .errors
    page = new_page(browser)
    yield page
    page.context.close()
