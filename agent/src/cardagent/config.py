"""All card agent settings in one place.

Sources, later ones win:
1. built-in defaults (below);
2. the demo-card marker ``<data_dir>/demo/demo.json`` written by ``make demo-card``
   (only for the PKCS#11 module and the PC/SC probe, and only when no module is configured);
3. a TOML file: ``CARDAGENT_CONFIG`` or ``<data_dir>/cardagent.toml`` if it exists;
4. environment variables ``CARDAGENT_*``.

See docs/cardagent.md for every variable.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
SOFTHSM2_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
DEMO_MARKER = Path("demo") / "demo.json"

# The emulator applet (devtools.emulator) answers this AID. Real SITHS cards do not.
TEST_APPLET_AID = "F0535449544853544553"  # F0 + "STITHSTES" - proprietary test AID

FAMILY_EID = "siths_eid"
FAMILY_LEGACY = "siths_legacy"

# Policy OIDs used by the test PKI. The real SITHS e-id policy OIDs were not found in public
# text, so deployments add them in the config file ([assurance.policy_oids]).
TEST_POLICY_OIDS: dict[str, dict[str, Any]] = {
    "2.25.200742413130497219433536563612377540001": {"level": 3, "family": FAMILY_EID},
    "2.25.200742413130497219433536563612377540002": {"level": 2, "family": FAMILY_EID},
    "2.25.200742413130497219433536563612377540003": {"level": None, "family": FAMILY_LEGACY},
}


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


@dataclass(frozen=True)
class AssuranceRule:
    level: int | None
    family: str


@dataclass(frozen=True)
class AssuranceMapping:
    """Maps issuing CA common names and certificate policy OIDs to assurance levels.

    A policy OID match wins over a CA name match (Inera recommends the policy OID).
    """

    ca_names: Mapping[str, AssuranceRule]
    policy_oids: Mapping[str, AssuranceRule]

    def lookup(self, issuer_cn: str | None, policy_oids: list[str]) -> AssuranceRule | None:
        for oid in policy_oids:
            rule = self.policy_oids.get(oid)
            if rule is not None:
                return rule
        if issuer_cn:
            return self.ca_names.get(issuer_cn.strip())
        return None


def _rules(raw: Mapping[str, Any]) -> dict[str, AssuranceRule]:
    out = {}
    for key, val in raw.items():
        if isinstance(val, int):
            out[key] = AssuranceRule(level=val, family=FAMILY_EID)
        else:
            lvl = val.get("level")
            out[key] = AssuranceRule(
                level=int(lvl) if lvl is not None else None,
                family=str(val.get("family", FAMILY_EID)),
            )
    return out


@dataclass(frozen=True)
class ProbeSettings:
    """The PC/SC probe seam (see cardagent/pcsc_probe.py). Off on real workstations."""

    enabled: bool = False
    aid: str = TEST_APPLET_AID
    pin_refs: Mapping[str, int] = field(
        default_factory=lambda: {"legitimering": 0x81, "underskrift": 0x82}
    )
    max_pin_tries: int = 3


@dataclass(frozen=True)
class UpgradeSettings:
    """The certificate upgrade (issue 4): enrollment service and job behaviour."""

    est_url: str | None = None  # e.g. https://est.example/.well-known/est
    est_tls_ca: str | None = None  # PEM file to verify the EST server (None: system store)
    est_trust_anchors: str | None = None  # PEM file: issuing CAs the new certificates must chain to
    est_username: str | None = None  # optional HTTP basic auth at the EST server
    est_password: str | None = None
    est_labels: Mapping[str, str] = field(
        default_factory=lambda: {
            "hsaid-auth": "hsaid-auth",
            "hsaid-sign": "hsaid-sign",
            "pnr-auth": "pnr-auth",
            "pnr-sign": "pnr-sign",
        }
    )
    est_timeout_s: float = 20.0
    est_attempts: int = 3  # tries per request before the job rolls back
    est_backoff_s: float = 1.0
    key_bits: int = 2048
    card_wait_s: float = 120.0  # how long a running job waits for a pulled card (PINs in memory)
    pin_page_ttl_s: float = 1800.0
    required_level: int = 3


@dataclass(frozen=True)
class OrderSettings:
    """PUK orders (issue 4): the card administration's webhook and the outbox."""

    webhook_url: str | None = None
    webhook_tls_ca: str | None = None
    webhook_token: str | None = None  # sent as "Authorization: Bearer ..." if set
    cost_sek: int = 200
    cost_note: str = (
        "En ny PUK-kod kostar ca 200 kr. Kostnaden betalas av den verksamhet du arbetar inom."
    )
    open_days: int = 30  # an order counts as open (no second order) for this many days
    retry_initial_s: float = 1.0
    retry_max_s: float = 300.0
    timeout_s: float = 10.0


@dataclass(frozen=True)
class Settings:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    allow_non_loopback: bool = False
    data_dir: Path = Path("var/cardagent")
    pkcs11_module: str = ""
    softhsm2_conf: str | None = None
    token: str | None = None
    allowed_origins: tuple[str, ...] = ()
    # Let the allowed origins (the intranet chat widget) call the relay routes without
    # the bearer token; see docs/cardagent.md "Browser relay". Off by default.
    browser_relay: bool = False
    allowed_hosts: tuple[str, ...] = ("127.0.0.1", "localhost", "[::1]")
    expiry_warning_days: int = 60
    reader_filter: str | None = None
    probe: ProbeSettings = field(default_factory=ProbeSettings)
    assurance: AssuranceMapping = field(
        default_factory=lambda: AssuranceMapping(
            _rules(_default_ca_names()), _rules(TEST_POLICY_OIDS)
        )
    )
    upgrade_deadline: dt.date | None = None
    puk_max_tries: int = 10
    log_level: str = "info"
    # Shown on the agent's own pages ("Kortprogrammet på den här datorn" + this name) so the
    # person can tell them from a look-alike; `make demo-card`/`make run` take it from site.yml.
    region_name: str = ""
    demo_card: str | None = None
    config_file: Path | None = None
    upgrade: UpgradeSettings = field(default_factory=UpgradeSettings)
    orders: OrderSettings = field(default_factory=OrderSettings)
    # Test-only: pause a running upgrade job at this checkpoint ("step" or "step:n") so a test
    # can kill -9 the agent there. Read from CARDAGENT_TESTHOOK_PAUSE_AT only; never from TOML.
    testhook_pause_at: str | None = None

    @property
    def token_file(self) -> Path:
        return self.data_dir / "token"

    def with_overrides(self, **kwargs: Any) -> Settings:
        return replace(self, **kwargs)


class ConfigError(ValueError):
    """Raised for invalid configuration."""


def default_module_path() -> str:
    """Net iD's PKCS#11 module for this platform."""
    if sys.platform == "darwin":
        return "/Library/Frameworks/iid.framework/Versions/Current/libiidp11.dylib"
    if sys.platform.startswith("win"):
        return "iidp11.dll"
    return "/usr/lib/libiidp11.so"


def default_data_dir() -> Path:
    """``var/cardagent`` in a source checkout, else the user's XDG data folder."""
    if (REPO_DIR / "pyproject.toml").exists() or (REPO_DIR / ".git").exists():
        return REPO_DIR / "var" / "cardagent"
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "cardagent"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def _list(value: Any) -> tuple[str, ...]:
    if isinstance(value, (list, tuple)):
        return tuple(str(v).strip() for v in value if str(v).strip())
    return tuple(v.strip() for v in str(value).split(",") if v.strip())


def read_demo_marker(data_dir: Path) -> dict[str, Any] | None:
    path = data_dir / DEMO_MARKER
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build the settings from defaults, demo marker, config file and environment."""
    env = os.environ if environ is None else environ
    data_dir = Path(env.get("CARDAGENT_DATA_DIR") or default_data_dir()).expanduser()

    file_path: Path | None = None
    raw: dict[str, Any] = {}
    if env.get("CARDAGENT_CONFIG"):
        file_path = Path(env["CARDAGENT_CONFIG"]).expanduser()
        if not file_path.is_file():
            raise ConfigError(f"CARDAGENT_CONFIG points to a missing file: {file_path}")
    elif (data_dir / "cardagent.toml").is_file():
        file_path = data_dir / "cardagent.toml"
    if file_path is not None:
        try:
            raw = tomllib.loads(file_path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read config file {file_path}: {exc}") from exc

    def pick(key: str, env_key: str, default: Any) -> Any:
        if env.get(env_key) not in (None, ""):
            return env[env_key]
        return raw.get(key, default)

    probe_raw = raw.get("probe", {}) if isinstance(raw.get("probe"), dict) else {}
    probe_enabled = _bool(probe_raw.get("enabled", False))
    module = pick("pkcs11_module", "CARDAGENT_PKCS11_MODULE", "")
    softhsm2_conf = pick("softhsm2_conf", "CARDAGENT_SOFTHSM2_CONF", None)
    demo_card = None
    marker = None
    if not module:
        marker = read_demo_marker(data_dir)
        if marker and marker.get("pkcs11_module"):
            module = str(marker["pkcs11_module"])
            softhsm2_conf = softhsm2_conf or marker.get("softhsm2_conf")
            probe_enabled = probe_enabled or _bool(marker.get("pcsc_probe", False))
            demo_card = str(marker.get("card") or "demo")
    demo_services: dict[str, Any] = {}
    if demo_card is not None and isinstance(marker, dict):
        demo_services = marker.get("services") or {}
    if not module:
        module = default_module_path()
    if env.get("CARDAGENT_PCSC_PROBE") not in (None, ""):
        probe_enabled = _bool(env["CARDAGENT_PCSC_PROBE"])
    pin_refs = probe_raw.get("pin_refs") or {"legitimering": 0x81, "underskrift": 0x82}
    probe = ProbeSettings(
        enabled=probe_enabled,
        aid=str(probe_raw.get("aid", TEST_APPLET_AID)).replace(" ", "").upper(),
        pin_refs={str(k): int(v) for k, v in pin_refs.items()},
        max_pin_tries=int(probe_raw.get("max_pin_tries", 3)),
    )

    assurance_raw = raw.get("assurance", {}) if isinstance(raw.get("assurance"), dict) else {}
    ca_names = {} if assurance_raw.get("replace_defaults") else _rules(_default_ca_names())
    oids = {} if assurance_raw.get("replace_defaults") else _rules(TEST_POLICY_OIDS)
    ca_names.update(_rules(assurance_raw.get("ca_names", {})))
    oids.update(_rules(assurance_raw.get("policy_oids", {})))

    deadline_raw = pick("upgrade_deadline", "CARDAGENT_UPGRADE_DEADLINE", None)
    deadline: dt.date | None = None
    if deadline_raw:
        deadline = (
            deadline_raw
            if isinstance(deadline_raw, dt.date)
            else dt.date.fromisoformat(str(deadline_raw))
        )

    upgrade_raw = raw.get("upgrade", {}) if isinstance(raw.get("upgrade"), dict) else {}
    orders_raw = raw.get("puk_orders", {}) if isinstance(raw.get("puk_orders"), dict) else {}

    def sub(table: Mapping[str, Any], key: str, env_key: str, default: Any) -> Any:
        if env.get(env_key) not in (None, ""):
            return env[env_key]
        if key in table:
            return table[key]
        return demo_services.get(key, default)

    try:
        up_default = UpgradeSettings()
        upgrade = UpgradeSettings(
            est_url=sub(upgrade_raw, "est_url", "CARDAGENT_EST_URL", None),
            est_tls_ca=sub(upgrade_raw, "est_tls_ca", "CARDAGENT_EST_TLS_CA", None),
            est_trust_anchors=sub(
                upgrade_raw, "est_trust_anchors", "CARDAGENT_EST_TRUST_ANCHORS", None
            ),
            est_username=sub(upgrade_raw, "est_username", "CARDAGENT_EST_USERNAME", None),
            est_password=env.get("CARDAGENT_EST_PASSWORD") or upgrade_raw.get("est_password"),
            est_labels={**up_default.est_labels, **dict(upgrade_raw.get("est_labels", {}))},
            est_timeout_s=float(sub(upgrade_raw, "est_timeout_s", "CARDAGENT_EST_TIMEOUT", 20.0)),
            est_attempts=int(sub(upgrade_raw, "est_attempts", "CARDAGENT_EST_ATTEMPTS", 3)),
            est_backoff_s=float(sub(upgrade_raw, "est_backoff_s", "CARDAGENT_EST_BACKOFF", 1.0)),
            key_bits=int(sub(upgrade_raw, "key_bits", "CARDAGENT_KEY_BITS", 2048)),
            card_wait_s=float(sub(upgrade_raw, "card_wait_s", "CARDAGENT_CARD_WAIT", 120.0)),
            pin_page_ttl_s=float(
                sub(upgrade_raw, "pin_page_ttl_s", "CARDAGENT_PIN_PAGE_TTL", 1800)
            ),
            required_level=int(sub(upgrade_raw, "required_level", "CARDAGENT_REQUIRED_LEVEL", 3)),
        )
        od = OrderSettings()
        orders = OrderSettings(
            webhook_url=sub(orders_raw, "webhook_url", "CARDAGENT_ORDER_WEBHOOK_URL", None),
            webhook_tls_ca=sub(
                orders_raw, "webhook_tls_ca", "CARDAGENT_ORDER_WEBHOOK_TLS_CA", None
            ),
            webhook_token=env.get("CARDAGENT_ORDER_WEBHOOK_TOKEN")
            or orders_raw.get("webhook_token")
            or demo_services.get("webhook_token"),
            cost_sek=int(sub(orders_raw, "cost_sek", "CARDAGENT_PUK_COST_SEK", od.cost_sek)),
            cost_note=str(sub(orders_raw, "cost_note", "CARDAGENT_PUK_COST_NOTE", od.cost_note)),
            open_days=int(sub(orders_raw, "open_days", "CARDAGENT_PUK_ORDER_OPEN_DAYS", 30)),
            retry_initial_s=float(
                sub(orders_raw, "retry_initial_s", "CARDAGENT_ORDER_RETRY_INITIAL", 1.0)
            ),
            retry_max_s=float(sub(orders_raw, "retry_max_s", "CARDAGENT_ORDER_RETRY_MAX", 300.0)),
            timeout_s=float(sub(orders_raw, "timeout_s", "CARDAGENT_ORDER_TIMEOUT", 10.0)),
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"invalid setting: {exc}") from exc

    try:
        settings = Settings(
            host=str(pick("host", "CARDAGENT_HOST", DEFAULT_HOST)),
            port=int(pick("port", "CARDAGENT_PORT", DEFAULT_PORT)),
            allow_non_loopback=_bool(
                pick("allow_non_loopback", "CARDAGENT_ALLOW_NON_LOOPBACK", False)
            ),
            data_dir=data_dir,
            pkcs11_module=str(module),
            softhsm2_conf=str(softhsm2_conf) if softhsm2_conf else None,
            token=env.get("CARDAGENT_TOKEN") or None,
            allowed_origins=_list(pick("allowed_origins", "CARDAGENT_ALLOWED_ORIGINS", ())),
            browser_relay=_bool(pick("browser_relay", "CARDAGENT_BROWSER_RELAY", False)),
            allowed_hosts=_list(
                pick(
                    "allowed_hosts", "CARDAGENT_ALLOWED_HOSTS", ("127.0.0.1", "localhost", "[::1]")
                )
            ),
            expiry_warning_days=int(
                pick("expiry_warning_days", "CARDAGENT_EXPIRY_WARNING_DAYS", 60)
            ),
            reader_filter=pick("reader_filter", "CARDAGENT_READER_FILTER", None) or None,
            probe=probe,
            assurance=AssuranceMapping(ca_names=ca_names, policy_oids=oids),
            upgrade_deadline=deadline,
            puk_max_tries=int(pick("puk_max_tries", "CARDAGENT_PUK_MAX_TRIES", 10)),
            log_level=str(pick("log_level", "CARDAGENT_LOG_LEVEL", "info")).lower(),
            region_name=str(
                pick(
                    "region_name",
                    "CARDAGENT_REGION_NAME",
                    (marker or {}).get("region_name", "") if demo_card else "",
                )
                or ""
            ).strip()[:80],
            demo_card=demo_card,
            config_file=file_path,
            upgrade=upgrade,
            orders=orders,
            testhook_pause_at=env.get("CARDAGENT_TESTHOOK_PAUSE_AT") or None,
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"invalid setting: {exc}") from exc
    validate(settings)
    return settings


def validate(settings: Settings) -> None:
    """Refuse unsafe or impossible settings."""
    if not is_loopback(settings.host) and not settings.allow_non_loopback:
        raise ConfigError(
            f"refusing to listen on non-loopback address {settings.host!r}; "
            "set CARDAGENT_ALLOW_NON_LOOPBACK=1 if you really mean it (see docs/cardagent.md)"
        )
    if not 0 < settings.port < 65536:
        raise ConfigError(f"port out of range: {settings.port}")
    if settings.expiry_warning_days < 0:
        raise ConfigError("expiry_warning_days must be >= 0")
    for url in (settings.upgrade.est_url, settings.orders.webhook_url):
        if url and not url.startswith("https://"):
            raise ConfigError(f"enrollment and order endpoints must use https://: {url}")
    for origin in settings.allowed_origins:
        if origin == "*":
            raise ConfigError("'*' is not allowed in allowed_origins: list each origin")
