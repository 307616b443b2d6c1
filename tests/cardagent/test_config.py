"""Settings: env vars, TOML file, demo marker, safety checks, assurance mapping."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from cardagent.config import (
    FAMILY_EID,
    FAMILY_LEGACY,
    SOFTHSM2_MODULE,
    ConfigError,
    default_module_path,
    load_settings,
)


def test_defaults(tmp_path) -> None:
    s = load_settings({"CARDAGENT_DATA_DIR": str(tmp_path)})
    assert (s.host, s.port) == ("127.0.0.1", 8765)
    assert s.pkcs11_module == default_module_path()
    assert s.expiry_warning_days == 60
    assert s.allowed_origins == ()
    assert s.probe.enabled is False
    assert s.token_file == tmp_path / "token"


def test_env_overrides(tmp_path) -> None:
    s = load_settings(
        {
            "CARDAGENT_DATA_DIR": str(tmp_path),
            "CARDAGENT_PORT": "9000",
            "CARDAGENT_PKCS11_MODULE": "/usr/lib/libiidp11.so",
            "CARDAGENT_ALLOWED_ORIGINS": "http://localhost:5005, https://chat.example.test",
            "CARDAGENT_EXPIRY_WARNING_DAYS": "30",
            "CARDAGENT_UPGRADE_DEADLINE": "2021-12-09",
            "CARDAGENT_TOKEN": "tok",
        }
    )
    assert s.port == 9000
    assert s.allowed_origins == ("http://localhost:5005", "https://chat.example.test")
    assert s.expiry_warning_days == 30
    assert s.upgrade_deadline == dt.date(2021, 12, 9)
    assert s.token == "tok"


@pytest.mark.parametrize("host", ["0.0.0.0", "10.0.0.1", "example.org"])
def test_non_loopback_needs_override(tmp_path, host: str) -> None:
    env = {"CARDAGENT_DATA_DIR": str(tmp_path), "CARDAGENT_HOST": host}
    with pytest.raises(ConfigError):
        load_settings(env)
    assert load_settings({**env, "CARDAGENT_ALLOW_NON_LOOPBACK": "1"}).host == host


def test_wildcard_origin_refused(tmp_path) -> None:
    with pytest.raises(ConfigError):
        load_settings({"CARDAGENT_DATA_DIR": str(tmp_path), "CARDAGENT_ALLOWED_ORIGINS": "*"})


def test_demo_marker_used_only_without_module(tmp_path) -> None:
    (tmp_path / "demo").mkdir()
    marker = {
        "card": "blocked",
        "pkcs11_module": SOFTHSM2_MODULE,
        "softhsm2_conf": "/x/softhsm2.conf",
        "pcsc_probe": True,
    }
    (tmp_path / "demo" / "demo.json").write_text(json.dumps(marker))
    s = load_settings({"CARDAGENT_DATA_DIR": str(tmp_path)})
    assert s.pkcs11_module == SOFTHSM2_MODULE and s.softhsm2_conf == "/x/softhsm2.conf"
    assert s.probe.enabled and s.demo_card == "blocked"
    real = load_settings(
        {"CARDAGENT_DATA_DIR": str(tmp_path), "CARDAGENT_PKCS11_MODULE": "/usr/lib/libiidp11.so"}
    )
    assert real.pkcs11_module == "/usr/lib/libiidp11.so"
    assert not real.probe.enabled and real.softhsm2_conf is None and real.demo_card is None


def test_toml_file_and_assurance_mapping(tmp_path) -> None:
    (tmp_path / "cardagent.toml").write_text(
        """
expiry_warning_days = 45
allowed_origins = ["http://localhost:5005"]
[assurance.ca_names]
"Region Test CA" = { level = 3, family = "siths_eid" }
[assurance.policy_oids]
"1.2.752.74.8.512" = { level = 3, family = "siths_eid" }
"""
    )
    s = load_settings({"CARDAGENT_DATA_DIR": str(tmp_path), "CARDAGENT_EXPIRY_WARNING_DAYS": "10"})
    assert s.expiry_warning_days == 10  # env wins over the file
    assert s.allowed_origins == ("http://localhost:5005",)
    m = s.assurance
    assert m.lookup("Region Test CA", []).level == 3
    assert m.lookup("SITHS e-id Person ID 2 CA v1", []).level == 2
    assert m.lookup("SITHS Type 1 CA v1", []).family == FAMILY_LEGACY
    # policy OID wins over the CA name
    assert m.lookup("SITHS Type 1 CA v1", ["1.2.752.74.8.512"]).family == FAMILY_EID
    assert m.lookup("Some Bank CA", ["1.2.3"]) is None


def test_bad_config_file_is_clear(tmp_path) -> None:
    bad = tmp_path / "x.toml"
    bad.write_text("this is = = not toml")
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_settings({"CARDAGENT_DATA_DIR": str(tmp_path), "CARDAGENT_CONFIG": str(bad)})
    with pytest.raises(ConfigError, match="missing file"):
        load_settings(
            {"CARDAGENT_DATA_DIR": str(tmp_path), "CARDAGENT_CONFIG": str(tmp_path / "nope.toml")}
        )


def test_region_name_from_env_file_and_demo_marker(tmp_path) -> None:
    from devtools.site_region import region_name

    assert load_settings({"CARDAGENT_DATA_DIR": str(tmp_path)}).region_name == ""
    env = {"CARDAGENT_DATA_DIR": str(tmp_path), "CARDAGENT_REGION_NAME": " Region Test "}
    assert load_settings(env).region_name == "Region Test"
    (tmp_path / "cardagent.toml").write_text('region_name = "Region Fil"\n', encoding="utf-8")
    assert load_settings({"CARDAGENT_DATA_DIR": str(tmp_path)}).region_name == "Region Fil"
    (tmp_path / "cardagent.toml").unlink()
    # make demo-card writes site.yml's name into the marker; the agent shows it
    (tmp_path / "demo").mkdir()
    marker = {"card": "old", "pkcs11_module": SOFTHSM2_MODULE, "region_name": "Region Demo"}
    (tmp_path / "demo" / "demo.json").write_text(json.dumps(marker))
    assert load_settings({"CARDAGENT_DATA_DIR": str(tmp_path)}).region_name == "Region Demo"
    assert load_settings(env).region_name == "Region Test"  # the environment wins
    # the helper make run and make demo-card use reads site.yml
    site = tmp_path / "site.yml"
    site.write_text("region_name: Region Halland\nservicecenter: {}\n", encoding="utf-8")
    assert region_name(site) == "Region Halland"
    assert region_name(tmp_path / "missing.yml") == ""


def test_access_log_keeps_the_path_only() -> None:
    import logging

    from cardagent.logsafety import PathOnlyAccessFilter, SecretQueryFilter

    token = "Zx9-secret-link-token"
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", f"/pin/0123456789abcdef?t={token}", "1.1", 303), None,
    )
    assert PathOnlyAccessFilter().filter(record)
    assert record.getMessage() == '127.0.0.1:5000 - "GET /pin/0123456789abcdef HTTP/1.1" 303'
    other = logging.LogRecord(
        "cardagent", logging.WARNING, __file__, 1, "opened %s", (f"/orders/x?a=1&t={token}",), None
    )
    assert SecretQueryFilter().filter(other)
    assert token not in other.getMessage() and "t=<redacted>" in other.getMessage()
