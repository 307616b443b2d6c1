"""Site settings (links, contacts and the FAQ's dates) read from ``site.yml``.

Responses in ``domain.yml`` refer to these values with Rasa's own placeholder
syntax, e.g. ``{link_puk_order}``, ``{servicecenter_contact}`` or
``{upgrade_last_day}``; see :mod:`bot.nlg` for where they are filled in. The
action server reads the same settings (the card flow's dates), so the FAQ
answers and the card flow can never disagree.

Declared settings (pydantic 1 ``BaseSettings``):

* :class:`SiteConfig` reads the site file (``SITE_CONFIG``, default ``./site.yml``)
  through a custom settings source (:func:`site_file_source`);
* :class:`SiteDates` takes the file's ``dates:`` and lets the environment win,
  one declared variable per date (``SITE_UPGRADE_LAST_DAY``,
  ``SITE_EXPIRY_CHOICE_BEFORE``, ``SITE_ASSURANCE_LEVEL3_REQUIRED_FROM``, ISO
  dates): for demos and tests, never by editing ``site.yml``.

Values tagged ``!example`` in the file are placeholders
(:meth:`SiteConfig.example_values`); a production start (``SITHS_ENV=production``,
``make run ENV=production``) refuses while any is left (:func:`check_production`).

``python -m bot.site_config --check`` is that check for scripts (``scripts/run.sh``).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from contextvars import ContextVar
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import yaml
from pydantic import BaseModel, BaseSettings, Extra, Field, ValidationError, validator

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
EXAMPLE_TAG = "!example"
#: ``SITHS_ENV``: ``production`` (``make run ENV=production``) or ``development`` (default).
ENV_VAR = "SITHS_ENV"
PRODUCTION = "production"
DEVELOPMENT = "development"
MONTHS = ("januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti",
          "september", "oktober", "november", "december")
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class SiteConfigError(ValueError):
    """``site.yml`` is missing, lacks a required value, has a bad one, or (in
    production) still has example values."""


def swedish_date(d: date) -> str:
    """``d`` as a Swedish sentence writes it: "31 december 2020" (with the year)."""
    return f"{d.day} {MONTHS[d.month - 1]} {d.year}"


def _iso_date(value: Any) -> date:
    if isinstance(value, datetime):
        raise ValueError("must be a date as YYYY-MM-DD, not a date and time")
    if isinstance(value, date):
        return value
    if isinstance(value, str) and ISO_DATE.fullmatch(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"{str(value)!r} is not a date as YYYY-MM-DD")


class SiteDates(BaseSettings):
    """The dates the FAQ page's answers depend on (see site.yml for the FAQ's
    sentence behind each). The file's values come in as init values; a set
    environment variable wins over them."""

    upgrade_last_day: date = Field(..., env="SITE_UPGRADE_LAST_DAY")
    expiry_choice_before: date = Field(..., env="SITE_EXPIRY_CHOICE_BEFORE")
    assurance_level3_required_from: date = Field(..., env="SITE_ASSURANCE_LEVEL3_REQUIRED_FROM")

    _iso = validator("*", pre=True, allow_reuse=True)(_iso_date)

    class Config:
        allow_mutation = False

        @classmethod
        def customise_sources(cls, init_settings: Any, env_settings: Any,
                              file_secret_settings: Any) -> Tuple[Any, ...]:
            return env_settings, init_settings  # the environment first: it wins

    def upgrade_open(self, today: date) -> bool:
        """An old card may still be upgraded on ``today`` (the last day included)."""
        return today <= self.upgrade_last_day

    @classmethod
    def env_names(cls) -> Dict[str, str]:
        """field name -> its environment variable (as declared above)."""
        return {name: str(f.field_info.extra["env"]) for name, f in cls.__fields__.items()}


class _Strict(BaseModel):
    class Config:
        extra = Extra.forbid
        allow_mutation = False
        anystr_strip_whitespace = True
        min_anystr_length = 1


class Servicecenter(_Strict):
    name: str
    phone: str
    email: str
    url: str


# --- the site file: a custom settings source ---

class _Example(str):
    """A scalar tagged ``!example`` while the file is read."""


class _SiteLoader(yaml.SafeLoader):
    """YAML's safe loader plus the ``!example`` tag (a placeholder value). Dates stay
    text here: :class:`SiteDates` reads them (a bad one is then named by its key)."""


_SiteLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _construct_example(loader: yaml.SafeLoader, node: yaml.Node) -> _Example:
    if not isinstance(node, yaml.ScalarNode):
        raise yaml.constructor.ConstructorError(
            None, None, f"{EXAMPLE_TAG} marks one value, not a list or mapping", node.start_mark)
    return _Example(loader.construct_scalar(node))


_SiteLoader.add_constructor(EXAMPLE_TAG, _construct_example)


def _untag(node: Any, where: str, examples: List[str]) -> Any:
    """``node`` with tagged values as plain strings; their dotted names go to ``examples``."""
    if isinstance(node, dict):
        return {k: _untag(v, f"{where}{k}.", examples) for k, v in node.items()}
    if isinstance(node, list):
        return [_untag(v, f"{where}{i}.", examples) for i, v in enumerate(node)]
    if isinstance(node, _Example):
        examples.append(where.rstrip("."))
        return str(node)
    return node


def read_site_file(path: Path) -> Dict[str, Any]:
    """The site file's mapping, with ``examples``: the dotted names of the
    values tagged ``!example``, in file order."""
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_SiteLoader)
    except FileNotFoundError as exc:
        raise SiteConfigError(f"site config not found: {path}") from exc
    except yaml.YAMLError as exc:
        raise SiteConfigError(f"site config {path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise SiteConfigError(f"site config {path}: expected a mapping at the top level")
    if "examples" in raw:
        raise SiteConfigError(f"site config {path}: 'examples' is not a setting (tag a "
                              f"placeholder value with {EXAMPLE_TAG} instead)")
    examples: List[str] = []
    data = _untag(raw, "", examples)
    data["examples"] = tuple(examples)
    return data


_SITE_FILE: ContextVar[Optional[Path]] = ContextVar("site_file", default=None)


def site_config_path() -> Path:
    return Path(os.environ.get("SITE_CONFIG") or DEFAULT_PATH)


def site_file_source(settings: BaseSettings) -> Dict[str, Any]:
    """Settings source: the site file being loaded (default: ``SITE_CONFIG`` or site.yml)."""
    return read_site_file(_SITE_FILE.get() or site_config_path())


class SiteConfig(BaseSettings):
    region_name: str
    servicecenter: Servicecenter
    #: What a new PUK-kod costs the unit, in kronor (the FAQ: "ca 200 kr").
    puk_cost_sek: int
    links: Dict[str, str]
    dates: SiteDates
    #: Dotted names of the values tagged ``!example`` (set from the file's tags, not a key).
    examples: Tuple[str, ...] = ()

    class Config:
        allow_mutation = False
        anystr_strip_whitespace = True

        @classmethod
        def customise_sources(cls, init_settings: Any, env_settings: Any,
                              file_secret_settings: Any) -> Tuple[Any, ...]:
            # Only the dates take the environment (SiteDates); the rest is the file's.
            return init_settings, site_file_source

    @validator("region_name")
    def _region_name(cls, value: str) -> str:
        if not value:
            raise ValueError("must be a non-empty string")
        return value

    @validator("links")
    def _required_links(cls, links: Dict[str, str]) -> Dict[str, str]:
        for name in REQUIRED_LINKS:
            if not str(links.get(name) or "").strip():
                raise ValueError(f"'links.{name}' must be a non-empty string")
        return {k: v.strip() for k, v in links.items()}

    def example_values(self) -> List[str]:
        """Dotted names of the placeholder values (tagged ``!example`` in the file)."""
        return list(self.examples)

    def value_of(self, dotted: str) -> str:
        """The value at a dotted name (``servicecenter.phone``, ``links.puk_order``)."""
        node: Any = self
        for part in dotted.split("."):
            node = node[part] if isinstance(node, dict) else getattr(node, part)
        return str(node)

    def examples_in(self, text: str) -> List[str]:
        """Dotted names of the example values that ``text`` shows."""
        return [name for name in self.examples if self.value_of(name) in text]

    def template_values(self) -> Dict[str, str]:
        """Values for response placeholders: ``link_<name>``, ``servicecenter_*``, the dates.
        (``servicecenter_contact``, the contact line in the domain's words, is added by
        :func:`bot.site_examples.site_values`.)"""
        values = {f"link_{name}": url for name, url in self.links.items()}
        d = self.dates
        values.update(
            region_name=self.region_name,
            servicecenter_name=self.servicecenter.name,
            servicecenter_phone=self.servicecenter.phone,
            servicecenter_email=self.servicecenter.email,
            servicecenter_url=self.servicecenter.url,
            puk_cost_sek=str(self.puk_cost_sek),
            upgrade_last_day=swedish_date(d.upgrade_last_day),
            upgrade_last_year=str(d.upgrade_last_day.year),
            expiry_choice_before=swedish_date(d.expiry_choice_before),
            expiry_choice_year=str(d.expiry_choice_before.year),
            assurance_level3_required_from=swedish_date(d.assurance_level3_required_from),
        )
        return values


def _describe(error: ValidationError, path: Path) -> str:
    env = SiteDates.env_names()
    parts = []
    for e in error.errors():
        loc = ".".join(str(p) for p in e["loc"] if p != "__root__")
        source = ""
        if loc.startswith("dates.") and os.environ.get(env.get(loc[6:], "")) is not None:
            source = f" (from the environment: {env[loc[6:]]})"
        parts.append(f"{loc}: {e['msg']}{source}")
    return f"site config {path}: " + "; ".join(parts)


def _date_env() -> Tuple[Optional[str], ...]:
    return tuple(os.environ.get(name) for name in SiteDates.env_names().values())


@lru_cache(maxsize=8)
def _load(path: Path, date_env: Tuple[Optional[str], ...]) -> SiteConfig:
    # date_env is part of the cache key only: SiteDates reads the environment itself.
    token = _SITE_FILE.set(path)
    try:
        return SiteConfig()
    except ValidationError as exc:
        raise SiteConfigError(_describe(exc, path)) from exc
    finally:
        _SITE_FILE.reset(token)


def load_site_config(path: Path | None = None) -> SiteConfig:
    """The site settings: read once per path and date overrides in the environment."""
    return _load(Path(path) if path else site_config_path(), _date_env())


# --- production start ---

def run_environment() -> str:
    """``SITHS_ENV``: ``production`` or ``development`` (unset: development)."""
    value = (os.environ.get(ENV_VAR) or DEVELOPMENT).strip().lower()
    if value not in (PRODUCTION, DEVELOPMENT):
        raise SiteConfigError(
            f"{ENV_VAR}={os.environ.get(ENV_VAR)!r}: expected '{PRODUCTION}' or '{DEVELOPMENT}'")
    return value


def production_refusal(config: SiteConfig, path: Path) -> str:
    """The one-line refusal naming each example value."""
    return (
        f"{ENV_VAR}=production: {path} still has example values, so the bot does not start: "
        f"{', '.join(config.example_values())}. Replace each with the region's own value "
        f"and remove its {EXAMPLE_TAG} tag."
    )


def check_production(path: Path | None = None) -> None:
    """Refuse (SiteConfigError) a production start while the site file has example
    values; does nothing outside production. Used by ``scripts/run.sh``, the bot's
    NLG and the action server's start."""
    if run_environment() != PRODUCTION:
        return
    path = Path(path) if path else site_config_path()
    config = load_site_config(path)
    if config.example_values():
        raise SiteConfigError(production_refusal(config, path))


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Check the site settings (site.yml).")
    parser.add_argument("--check", action="store_true",
                        help="exit 1 naming each example value when SITHS_ENV=production; "
                             "otherwise print a summary")
    parser.add_argument("path", nargs="?", type=Path, help="default: $SITE_CONFIG or site.yml")
    args = parser.parse_args(argv)
    path = args.path or site_config_path()
    try:
        check_production(path)
        config = load_site_config(path)
    except SiteConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    overrides = [f"{name}={os.environ[name]}" for name in SiteDates.env_names().values()
                 if name in os.environ]
    print(f"Site settings: {path}; last upgrade day {config.dates.upgrade_last_day}"
          + (f" (environment: {' '.join(overrides)})" if overrides else ""))
    if config.example_values():
        print(f"  {len(config.example_values())} example values (answers that show one say "
              "so; `make run ENV=production` refuses them)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
