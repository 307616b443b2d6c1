"""The upgrade's API errors (see cardagent/errors.py for how they reach the caller)."""

from __future__ import annotations

from typing import Any

from cardagent.errors import AgentError
from cardagent.upgrade import texts


class UpgradeRefused(AgentError):
    """POST /v1/upgrade refused: ``code`` and the Swedish ``message`` go to the caller."""

    code = "not_upgradable"
    status = 409
    message_sv = texts.REFUSALS["default"]

    def __init__(
        self, code: str, message: str, detail: str = "", status: int = 409, **extra: Any
    ) -> None:
        super().__init__(detail, **extra)
        self.code = code
        self.message_sv = message
        self.status = status


class JobNotFound(AgentError):
    code = "job_not_found"
    status = 404
    message_sv = texts.JOB_NOT_FOUND
