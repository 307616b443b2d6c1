"""Attacker-style tests for issue 10 on the bot's side: reuse the suites' fixtures instead of
copying them. The agent's own attacker tests live in tests/cardagent/security/."""

from tests.widget.conftest import browser, page  # noqa: F401 - Chromium via Playwright
