"""Agent errors: each has a machine code, an HTTP status and a short English message for
developers (the bot maps the code to its own words; the agent's pages word theirs in their
templates)."""

from __future__ import annotations

from typing import Any


class AgentError(Exception):
    code = "agent_error"
    status = 500
    message = "The card agent ran into an error."

    def __init__(self, detail: str = "", **extra: Any) -> None:
        super().__init__(detail or self.code)
        self.detail = detail
        self.extra = extra

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.detail:
            body["detail"] = self.detail
        if self.extra:
            body.update(self.extra)
        return body


class PcscUnavailable(AgentError):
    code = "pcsc_unavailable"
    status = 503
    message = "The PC/SC service (pcscd / Smart Card service) does not answer."


class PcscError(AgentError):
    code = "pcsc_error"
    status = 502
    message = "The card reader answered with an unexpected PC/SC error."


class CardRemoved(AgentError):
    code = "card_removed"
    status = 409
    message = "The card was removed while it was being read."


class Pkcs11ModuleMissing(AgentError):
    code = "pkcs11_module_missing"
    status = 503
    message = "The PKCS#11 module (Net iD) was not found."


class Pkcs11ModuleError(AgentError):
    code = "pkcs11_module_error"
    status = 503
    message = "The PKCS#11 module (Net iD) could not be loaded."


class TokenError(AgentError):
    code = "token_error"
    status = 502
    message = "The PKCS#11 token answered with an error."


class TokenBadData(AgentError):
    code = "token_bad_data"
    status = 502
    message = "The token returned a certificate object that is not X.509."
