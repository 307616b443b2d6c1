"""Agent errors: each has a machine code, an HTTP status and a short Swedish message."""

from __future__ import annotations

from typing import Any


class AgentError(Exception):
    code = "agent_error"
    status = 500
    message_sv = "Kortagenten stötte på ett fel."

    def __init__(self, detail: str = "", **extra: Any) -> None:
        super().__init__(detail or self.code)
        self.detail = detail
        self.extra = extra

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.code, "message": self.message_sv}
        if self.detail:
            body["detail"] = self.detail
        if self.extra:
            body.update(self.extra)
        return body


class PcscUnavailable(AgentError):
    code = "pcsc_unavailable"
    status = 503
    message_sv = "Korttjänsten (pcscd) svarar inte. Starta om datorn eller kontakta IT-support."


class PcscError(AgentError):
    code = "pcsc_error"
    status = 502
    message_sv = "Kortläsaren gav ett oväntat fel."


class CardRemoved(AgentError):
    code = "card_removed"
    status = 409
    message_sv = "Kortet togs ur medan det lästes. Sätt i kortet igen och försök på nytt."


class Pkcs11ModuleMissing(AgentError):
    code = "pkcs11_module_missing"
    status = 503
    message_sv = "Programmet för SITHS-kort (Net iD) hittades inte på datorn. Kontakta IT-support."


class Pkcs11ModuleError(AgentError):
    code = "pkcs11_module_error"
    status = 503
    message_sv = "Programmet för SITHS-kort (Net iD) kunde inte startas. Kontakta IT-support."


class TokenError(AgentError):
    code = "token_error"
    status = 502
    message_sv = "Kortet kunde inte läsas. Ta ur kortet, sätt i det igen och försök på nytt."


class TokenBadData(AgentError):
    code = "token_bad_data"
    status = 502
    message_sv = (
        "Kortet svarade med data som inte går att tolka. Kortet kan vara skadat; "
        "kontakta Servicecenter."
    )
