"""Words the actions take from the domain rasa-sdk passes them (button titles, wait labels)."""

from __future__ import annotations

from typing import Any, Mapping


def response_text(responses: Mapping[str, Any], name: str) -> str:
    """The first text of response ``name`` ("" when the domain has none)."""
    variants = responses.get(name) or [{}]
    return str(variants[0].get("text") or "")
