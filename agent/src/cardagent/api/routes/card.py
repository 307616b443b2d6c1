"""``/v1/card/state`` and ``/v1/card/tokens``: the card in the reader, read now."""

from __future__ import annotations

from typing import Annotated, Optional

from fastapi import APIRouter, Query

from cardagent.api.convert import card_state_out, token_out
from cardagent.api.deps import ServiceDep
from cardagent.models import CardStateOut, TokensOut

router = APIRouter(prefix="/card", tags=["card"])


@router.get("/state", response_model=CardStateOut, summary="Classify the SITHS card in the reader")
def get_card_state(
    service: ServiceDep,
    expiry_warning_days: Annotated[
        Optional[int],
        Query(ge=0, le=3650, description="Override the configured expiry warning (days)"),
    ] = None,
) -> CardStateOut:
    return card_state_out(service.read(expiry_warning_days=expiry_warning_days))


@router.get(
    "/tokens", response_model=TokensOut, summary="PKCS#11 tokens and certificates of the card"
)
def get_card_tokens(service: ServiceDep) -> TokensOut:
    reading = service.read()
    return TokensOut(
        reader=reading.card_reader.name if reading.card_reader else None,
        tokens=[token_out(t, reading.checked_at) for t in reading.tokens],
    )
