"""Assurance levels: which issuing CA or certificate policy OID gives which level and family.

The built-in tables below are the defaults of the ``[assurance]`` table in the agent's
settings (``cardagent.settings``); a configuration file adds to them or, with
``replace_defaults = true``, replaces them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

FAMILY_EID = "siths_eid"
FAMILY_LEGACY = "siths_legacy"

# No policy OIDs are built in: the real SITHS e-id policy OIDs were not found in public
# text, so deployments add them in the settings file ([assurance.policy_oids]); until then
# the issuing CA's name decides.


def _default_ca_names() -> dict[str, dict[str, Any]]:
    eid = {
        "SITHS e-id Person HSA-id 3 CA v1": 3,
        "SITHS e-id Person ID 3 CA v1": 3,
        "SITHS e-id Person HSA-id 2 CA v1": 2,
        "SITHS e-id Person ID 2 CA v1": 2,
    }
    legacy = ["SITHS Type 1 CA v1", "SITHS CA v3"]
    out: dict[str, dict[str, Any]] = {}
    for prefix in ("", "TEST "):  # Inera's own test environment prefixes CA names with TEST
        for name, level in eid.items():
            out[prefix + name] = {"level": level, "family": FAMILY_EID}
        for name in legacy:
            # The assurance level of the old certificates is not published; left unknown.
            out[prefix + name] = {"level": None, "family": FAMILY_LEGACY}
    return out


DEFAULT_CA_NAMES = _default_ca_names()


class AssuranceRule(BaseModel):
    """A level (None: not published) and a family. In TOML a bare integer is an e-id level."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    level: int | None
    family: str = FAMILY_EID

    @model_validator(mode="before")
    @classmethod
    def _bare_level(cls, data: Any) -> Any:
        return {"level": data} if isinstance(data, int) else data


class AssuranceMapping(BaseModel):
    """Maps issuing CA common names and certificate policy OIDs to assurance levels.

    A policy OID match wins over a CA name match (Inera recommends the policy OID). Entries
    given here are added to the built-in ones unless ``replace_defaults`` is true.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    ca_names: dict[str, AssuranceRule] = Field(default_factory=dict)
    policy_oids: dict[str, AssuranceRule] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _with_defaults(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        data = dict(data)
        if data.pop("replace_defaults", False):
            return data
        return {
            **data,
            "ca_names": {**DEFAULT_CA_NAMES, **(data.get("ca_names") or {})},
            "policy_oids": dict(data.get("policy_oids") or {}),
        }

    def lookup(self, issuer_cn: str | None, policy_oids: list[str]) -> AssuranceRule | None:
        for oid in policy_oids:
            rule = self.policy_oids.get(oid)
            if rule is not None:
                return rule
        if issuer_cn:
            return self.ca_names.get(issuer_cn.strip())
        return None
