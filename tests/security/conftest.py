"""Attacker-style tests for issue 10: reuse the suites' fixtures instead of copying them."""

from tests.cardagent.conftest import *  # noqa: F403 - the card stack (pcscd, SoftHSM2, agent)
