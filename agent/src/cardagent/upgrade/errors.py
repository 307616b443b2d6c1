"""The upgrade's API errors (see cardagent/errors.py for how they reach the caller)."""

from __future__ import annotations

from typing import Any

from cardagent.errors import AgentError

# Why POST /v1/upgrade refuses: the code (the bot words it) and English for developers.
REFUSALS = {
    "no_card": "No card in the reader.",
    "not_a_siths_card": "The card in the reader is not a SITHS card.",
    "not_upgradable": "The card is not an old SITHS card that can be upgraded (see card_state).",
    "enrollment_not_configured": "No enrollment service configured ([upgrade] est_url).",
    "missing_pin_token": "The card lacks the legitimering or the underskrift PIN token.",
    "old_without_hsa_id": "The card's old certificates carry no HSA-id.",
    "pin_blocked": "A PIN of the card is blocked (see error_role).",
}


class UpgradeRefused(AgentError):
    """POST /v1/upgrade refused: ``code`` (one of :data:`REFUSALS`) goes to the caller."""

    code = "not_upgradable"
    status = 409

    def __init__(self, code: str, detail: str = "", status: int = 409, **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.code = code
        self.message = REFUSALS[code]
        self.status = status


class JobNotFound(AgentError):
    code = "job_not_found"
    status = 404
    message = "No such upgrade job."
