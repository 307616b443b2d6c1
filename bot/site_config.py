"""Site settings (links and contacts) read from ``site.yml``.

Responses in ``domain.yml`` refer to these values with Rasa's own placeholder
syntax, e.g. ``{link_puk_order}`` or ``{servicecenter_contact}``; see
:mod:`bot.nlg` for where they are filled in.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Dict

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PATH = REPO_ROOT / "site.yml"
REQUIRED_LINKS = (
    "choose_certificate",
    "trusted_site",
    "upgrade_instruction",
    "puk_order",
    "create_pins",
    "help",
    "assurance_table",
    "order_codes_manual",
    "reservkort",
)


class SiteConfigError(ValueError):
    """``site.yml`` is missing or lacks a required value."""


@dataclass(frozen=True)
class Servicecenter:
    name: str
    phone: str
    email: str
    url: str

    @property
    def contact(self) -> str:
        """One line a user can act on: phone, e-mail and web page."""
        return (
            f"{self.name}: telefon {self.phone}, e-post {self.email} "
            f"eller [webbplatsen]({self.url})"
        )


@dataclass(frozen=True)
class SiteConfig:
    region_name: str
    servicecenter: Servicecenter
    links: Dict[str, str] = field(default_factory=dict)

    def template_values(self) -> Dict[str, str]:
        """Values for response placeholders: ``link_<name>``, ``servicecenter_*``."""
        values = {f"link_{name}": url for name, url in self.links.items()}
        values.update(
            region_name=self.region_name,
            servicecenter_name=self.servicecenter.name,
            servicecenter_phone=self.servicecenter.phone,
            servicecenter_email=self.servicecenter.email,
            servicecenter_url=self.servicecenter.url,
            servicecenter_contact=self.servicecenter.contact,
        )
        return values


def _require(mapping: dict, key: str, where: str) -> str:
    value = mapping.get(key) if isinstance(mapping, dict) else None
    if not isinstance(value, str) or not value.strip():
        raise SiteConfigError(f"site config: '{where}{key}' must be a non-empty string")
    return value.strip()


def parse_site_config(raw: dict) -> SiteConfig:
    """Validate the parsed YAML of ``site.yml``."""
    if not isinstance(raw, dict):
        raise SiteConfigError("site config: expected a mapping at the top level")
    sc = raw.get("servicecenter") or {}
    links = raw.get("links") or {}
    for name in REQUIRED_LINKS:
        _require(links, name, "links.")
    return SiteConfig(
        region_name=_require(raw, "region_name", ""),
        servicecenter=Servicecenter(
            name=_require(sc, "name", "servicecenter."),
            phone=_require(sc, "phone", "servicecenter."),
            email=_require(sc, "email", "servicecenter."),
            url=_require(sc, "url", "servicecenter."),
        ),
        links={str(k): str(v).strip() for k, v in links.items()},
    )


def site_config_path() -> Path:
    return Path(os.environ.get("SITE_CONFIG") or DEFAULT_PATH)


@lru_cache(maxsize=4)
def _load(path: Path) -> SiteConfig:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SiteConfigError(f"site config not found: {path}") from exc
    return parse_site_config(raw)


def load_site_config(path: Path | None = None) -> SiteConfig:
    """The site settings, read once per path."""
    return _load(Path(path) if path else site_config_path())
