"""The Teams app manifest validates against Microsoft's published JSON schema for
manifest version 1.29, vendored in teams/schema/ (these machines cannot reach
developer.microsoft.com)."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import jsonschema
import pytest

TEAMS = Path(__file__).resolve().parents[2] / "teams"
SCHEMA = TEAMS / "schema" / "MicrosoftTeams.schema.v1.29.json"
APP_ID = "01234567-89ab-cdef-0123-456789abcdef"


@pytest.fixture(scope="module")
def manifest() -> dict:
    sys.path.insert(0, str(TEAMS))
    try:
        import build_package
    finally:
        sys.path.remove(str(TEAMS))
    return build_package.manifest(APP_ID, "1.0.0", "https://intranat.region.example/teams-tab")


def errors(document: dict) -> list:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())
    return [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(document)]


def test_the_manifest_is_valid_for_schema_1_29(manifest):
    assert manifest["manifestVersion"] == "1.29"
    assert manifest["$schema"].endswith("/teams/v1.29/MicrosoftTeams.schema.json")
    assert errors(manifest) == []


@pytest.mark.parametrize("change", [
    lambda m: m.pop("name"),
    lambda m: m.__setitem__("accentColor", "blue"),
    lambda m: m["bots"][0].__setitem__("scopes", ["everywhere"]),
    lambda m: m.__setitem__("unknownField", True),
    lambda m: m["staticTabs"][1].__setitem__("contentUrl", "ftp://intranat/tab"),
])
def test_the_schema_check_can_fail(manifest, change):
    broken = copy.deepcopy(manifest)
    change(broken)
    assert errors(broken)
