"""The PUK orders' API errors (see cardagent/errors.py for how they reach the caller)."""

from __future__ import annotations

from cardagent.errors import AgentError

# Why POST /v1/puk-orders refuses: the code (the bot words it) and English for developers.
REFUSALS = {
    "no_card": "No card in the reader.",
    "not_a_siths_card": "The card in the reader is not a SITHS card.",
    "card_not_identified": "The card's SITHS certificates carry no HSA-id.",
}


class OrderRefused(AgentError):
    status = 409

    def __init__(self, code: str, status: int = 409, detail: str = "") -> None:
        super().__init__(detail)
        self.code = code
        self.message = REFUSALS[code]
        self.status = status


class OrderNotFound(AgentError):
    code = "order_not_found"
    status = 404
    message = "No such PUK order."
