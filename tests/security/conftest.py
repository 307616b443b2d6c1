"""Attacker-style tests for issue 10: reuse the suites' fixtures instead of copying them."""

from tests.cardagent.conftest import *  # noqa: F403 - the card stack (pcscd, SoftHSM2, agent)
from tests.cardagent.test_upgrade import make_agent  # noqa: E402, F401 - upgrade agent fixture
from tests.widget.conftest import browser, page  # noqa: E402, F401 - Chromium via Playwright
