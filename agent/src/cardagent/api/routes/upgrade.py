"""``/v1/upgrade`` and ``/v1/jobs/{id}``: upgrade jobs.

A job never runs from here: it runs when the person types the PINs on the agent's PIN page
(cardagent/pages/pin.py).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from cardagent.api.deps import UpgradesDep
from cardagent.models import JobOut, UpgradeRequest

router = APIRouter(tags=["upgrade"])


@router.post(
    "/upgrade",
    response_model=JobOut,
    status_code=201,
    summary="Start the certificate upgrade of the card in the reader",
    responses={200: {"model": JobOut, "description": "The card's active job already existed"}},
)
def post_upgrade(
    upgrades: UpgradesDep, response: Response, body: UpgradeRequest | None = None
) -> Any:
    job, created = upgrades.start()
    if not created:
        response.status_code = 200
    return {**job, "created": created}


@router.get("/jobs/{job_id}", response_model=JobOut, summary="Status of an upgrade job")
def get_job(upgrades: UpgradesDep, job_id: str) -> Any:
    return upgrades.view(job_id)
