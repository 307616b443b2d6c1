"""``/v1/readers`` and ``/v1/agent``: the readers, and what this agent is."""

from __future__ import annotations

from fastapi import APIRouter

from cardagent import __version__
from cardagent.api.convert import reader_out
from cardagent.api.deps import ServiceDep, SettingsDep
from cardagent.models import AgentInfoOut, ReadersOut

router = APIRouter(tags=["agent"])


@router.get("/readers", response_model=ReadersOut, summary="PC/SC readers and card presence")
def get_readers(service: ServiceDep) -> ReadersOut:
    return ReadersOut(readers=[reader_out(r) for r in service.readers()])


@router.get(
    "/agent", response_model=AgentInfoOut, summary="Agent version and configuration summary"
)
def get_agent_info(settings: SettingsDep) -> AgentInfoOut:
    return AgentInfoOut(
        name="SITHS card agent",
        version=__version__,
        pkcs11_module=settings.pkcs11_module,
        pcsc_probe=settings.probe.enabled,
        expiry_warning_days=settings.expiry_warning_days,
    )
