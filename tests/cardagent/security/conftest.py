"""The agent-side security tests share the card stack of tests/cardagent/conftest.py."""

from tests.cardagent.test_upgrade import make_agent  # noqa: F401 - upgrade agent fixture
from tests.support.browser import browser, page  # noqa: F401 - Chromium via Playwright
