"""The card agent's settings: one declaration (pydantic-settings).

``load_settings()`` reads, earlier sources winning:

1. environment variables: ``CARDAGENT_<FIELD>`` for the top-level fields; a field inside a
   table (``[probe]``, ``[upgrade]``, ``[puk_orders]``) has the name its ``Env(...)`` gives;
2. a TOML file: ``CARDAGENT_CONFIG``, or ``<data folder>/cardagent.toml`` if it exists (the
   data folder: ``CARDAGENT_DATA_DIR``, else the per-user folder from platformdirs);
3. the defaults stated on the fields below.

``Settings(...)`` alone uses only its arguments and the defaults (tests, ``with_overrides``).
The rules (loopback only, https endpoints, no ``*`` origin, ...) are validators, so they hold
whatever the source. docs/cardagent.md lists every setting.
"""

from __future__ import annotations

import ipaddress
import os
import sys
import tomllib
from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path, PureWindowsPath
from typing import Annotated, Any, Literal

import platformdirs
from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    InitSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)
from pydantic_settings.sources.utils import parse_env_vars

from cardagent.assurance import AssuranceMapping
from cardagent.settings_tables import (
    Env,
    OrderSettings,
    ProbeSettings,
    Text,
    UpgradeSettings,
    blank_is_none,
)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
CONFIG_ENV = "CARDAGENT_CONFIG"
DATA_DIR_ENV = "CARDAGENT_DATA_DIR"
CONFIG_FILE_NAME = "cardagent.toml"


class ConfigError(ValueError):
    """Raised for invalid configuration."""


def default_module_path() -> str:
    """Net iD's PKCS#11 module for this platform."""
    if sys.platform == "darwin":
        return "/Library/Frameworks/iid.framework/Versions/Current/libiidp11.dylib"
    if sys.platform.startswith("win"):
        # Net iD Enterprise's default install folder (docs/cardagent-windows.md)
        program_files = os.environ.get("ProgramFiles") or r"C:\Program Files"
        return str(PureWindowsPath(program_files, "Net iD", "iidp11.dll"))
    return "/usr/lib/libiidp11.so"


def default_data_dir() -> Path:
    """The per-user data folder (Linux ``~/.local/share/cardagent``, Windows
    ``%LOCALAPPDATA%\\cardagent``, macOS ``~/Library/Application Support/cardagent``)."""
    return Path(platformdirs.user_data_dir("cardagent", appauthor=False))


def resolve_data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where the agent looks for ``cardagent.toml``: ``CARDAGENT_DATA_DIR``, else the default."""
    env = os.environ if environ is None else environ
    return Path(env.get(DATA_DIR_ENV) or default_data_dir()).expanduser()


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _names(value: Any) -> Any:
    """A comma-separated string (environment) or a list (TOML) of names."""
    if isinstance(value, str):
        value = value.split(",")
    if isinstance(value, (list, tuple)):
        return tuple(str(v).strip() for v in value if str(v).strip())
    return value


Names = Annotated[tuple[str, ...], NoDecode, BeforeValidator(_names)]


# The environment load_settings() reads; None: Settings(...) uses only its arguments.
_ENVIRON: ContextVar[Mapping[str, str] | None] = ContextVar("cardagent_environ", default=None)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CARDAGENT_",
        env_prefix_target="all",
        env_ignore_empty=True,
        extra="forbid",
        frozen=True,
        validate_by_name=True,
    )

    host: str = DEFAULT_HOST
    port: int = Field(DEFAULT_PORT, gt=0, lt=65536)
    allow_non_loopback: bool = False
    data_dir: Path = Field(default_factory=default_data_dir)
    pkcs11_module: str = Field(default_factory=default_module_path)
    softhsm2_conf: Text = None  # only for SoftHSM2 (demo, tests): its SOFTHSM2_CONF
    token: Text = Field(None, repr=False)  # None: <data_dir>/token, made at first start
    allowed_origins: Names = ()
    # Let the allowed origins (the intranet chat widget) call the relay routes without
    # the bearer token; see docs/cardagent.md "Browser relay". Off by default.
    browser_relay: bool = False
    allowed_hosts: Names = ("127.0.0.1", "localhost", "[::1]")
    expiry_warning_days: int = Field(60, ge=0)
    reader_filter: Text = None
    probe: ProbeSettings = Field(default_factory=ProbeSettings)
    assurance: AssuranceMapping = Field(default_factory=AssuranceMapping)
    puk_max_tries: int = Field(10, ge=1)
    log_level: Literal["critical", "error", "warning", "info", "debug", "trace"] = "info"
    # Shown on the agent's own pages (a fixed heading + this name) so the
    # person can tell them from a look-alike; `make run`/`make demo-card` take it from site.yml.
    region_name: str = ""
    config_file: Path | None = None  # the TOML file read (set by load_settings)
    upgrade: UpgradeSettings = Field(default_factory=UpgradeSettings)
    orders: OrderSettings = Field(default_factory=OrderSettings, validation_alias="puk_orders")

    @field_validator("pkcs11_module", mode="before")
    @classmethod
    def _module_or_default(cls, value: Any) -> Any:
        return default_module_path() if blank_is_none(value) is None else value

    @field_validator("data_dir")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    @field_validator("allowed_origins")
    @classmethod
    def _no_wildcard(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if "*" in value:
            raise ValueError("'*' is not allowed in allowed_origins: list each origin")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("region_name", mode="before")
    @classmethod
    def _short_name(cls, value: Any) -> Any:
        return (value or "").strip()[:80] if isinstance(value, str) or value is None else value

    @model_validator(mode="after")
    def _loopback_only(self) -> Settings:
        if not is_loopback(self.host) and not self.allow_non_loopback:
            raise ValueError(
                f"refusing to listen on non-loopback address {self.host!r}; "
                "set CARDAGENT_ALLOW_NON_LOOPBACK=1 if you really mean it (see docs/cardagent.md)"
            )
        return self

    @property
    def token_file(self) -> Path:
        return self.data_dir / "token"

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with ``changes``, validated like the original."""
        current = {name: getattr(self, name) for name in type(self).model_fields}
        return type(self)(**{**current, **changes})

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        environ = _ENVIRON.get()
        if environ is None:
            return (init_settings,)
        file = _config_file(environ)
        try:
            toml = TomlConfigSettingsSource(settings_cls, toml_file=file)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read config file {file}: {exc}") from exc
        return (
            init_settings,
            InitSettingsSource(settings_cls, {"config_file": file}),
            _Environment(settings_cls, environ),
            toml,
        )


def _config_file(environ: Mapping[str, str]) -> Path | None:
    if environ.get(CONFIG_ENV):
        path = Path(environ[CONFIG_ENV]).expanduser()
        if not path.is_file():
            raise ConfigError(f"{CONFIG_ENV} points to a missing file: {path}")
        return path
    path = resolve_data_dir(environ) / CONFIG_FILE_NAME
    return path if path.is_file() else None


def _tables(cls: type[BaseModel]) -> dict[str, tuple[str, type[BaseModel]]]:
    """Field name -> (input key, model) for the fields that are tables of their own."""
    out = {}
    for name, field in cls.model_fields.items():
        model = field.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):
            key = field.validation_alias if isinstance(field.validation_alias, str) else name
            out[name] = (key, model)
    return out


def _env_names(model: type[BaseModel]) -> dict[str, str]:
    """Field name -> environment variable, from the fields' ``Env`` metadata."""
    return {
        name: meta.name
        for name, field in model.model_fields.items()
        for meta in field.metadata
        if isinstance(meta, Env)
    }


class _Environment(EnvSettingsSource):
    """``CARDAGENT_*`` from the given mapping (not only ``os.environ``), plus the tables'
    fields under the names their ``Env`` metadata gives."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(
            self._environ, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str
        )

    def __call__(self) -> dict[str, Any]:
        data = super().__call__()
        for key, model in _tables(self.settings_cls).values():
            found = {
                name: self.env_vars[env.lower()]
                for name, env in _env_names(model).items()
                if env.lower() in self.env_vars
            }
            if found:
                data[key] = {**data.get(key, {}), **found}
        return data


def _env_name(loc: tuple[Any, ...]) -> str:
    tables = {key: model for key, model in _tables(Settings).values()}
    if len(loc) >= 2 and loc[0] in tables:
        return _env_names(tables[loc[0]]).get(str(loc[1]), "")
    if len(loc) == 1 and loc[0] in Settings.model_fields and loc[0] not in tables:
        return f"CARDAGENT_{str(loc[0]).upper()}"
    return ""


def _explain(exc: ValidationError) -> str:
    """One line per error, without the rejected values (they may be secrets)."""
    lines = []
    for err in exc.errors(include_url=False, include_input=False, include_context=False):
        loc = tuple(err["loc"])
        where = ".".join(str(p) for p in loc)
        env = _env_name(loc)
        msg = str(err["msg"]).removeprefix("Value error, ")
        label = f"{where} ({env})" if where and env else where
        lines.append(f"{label}: {msg}" if label else msg)
    return "invalid setting: " + "; ".join(lines)


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """The agent's settings from ``environ`` (default ``os.environ``), the TOML file and the
    defaults. Raises :class:`ConfigError` with a readable message."""
    reset = _ENVIRON.set(os.environ if environ is None else environ)
    try:
        return Settings()
    except ValidationError as exc:
        raise ConfigError(_explain(exc)) from None
    except SettingsError as exc:  # e.g. a table given as JSON in the environment
        raise ConfigError(f"invalid setting: {exc}") from None
    finally:
        _ENVIRON.reset(reset)
