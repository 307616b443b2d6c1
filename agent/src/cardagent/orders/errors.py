"""The PUK orders' API errors (see cardagent/errors.py for how they reach the caller)."""

from __future__ import annotations

from cardagent.errors import AgentError
from cardagent.orders import texts


class OrderRefused(AgentError):
    status = 409

    def __init__(self, code: str, status: int = 409, detail: str = "") -> None:
        super().__init__(detail)
        self.code = code
        self.message_sv = texts.REFUSALS[code]
        self.status = status


class OrderNotFound(AgentError):
    code = "order_not_found"
    status = 404
    message_sv = texts.ORDER_NOT_FOUND
