"""The agent's settings (cardagent.settings): sources and their order, validators, defaults,
secrets, and the demo card's configuration file. Unit tier: no servers."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import platformdirs
import pytest

from cardagent.assurance import FAMILY_EID, FAMILY_LEGACY
from cardagent.settings import (
    ConfigError,
    Env,
    OrderSettings,
    ProbeSettings,
    Settings,
    UpgradeSettings,
    default_data_dir,
    default_module_path,
    load_settings,
)

REPO = Path(__file__).resolve().parents[2]
AID = "A000000063504B43532D3135"  # any well-formed AID (PKCS#15)


@pytest.fixture()
def env(tmp_path: Path) -> dict[str, str]:
    """An environment whose data folder (and so its cardagent.toml) is the test's own."""
    return {"CARDAGENT_DATA_DIR": str(tmp_path)}


def write_toml(folder: Path, text: str) -> Path:
    path = folder / "cardagent.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults(tmp_path: Path, env: dict[str, str]) -> None:
    s = load_settings(env)
    assert (s.host, s.port, s.allow_non_loopback) == ("127.0.0.1", 8765, False)
    assert s.pkcs11_module == default_module_path() and s.softhsm2_conf is None
    assert s.expiry_warning_days == 60 and s.puk_max_tries == 10 and s.log_level == "info"
    assert s.allowed_origins == () and s.allowed_hosts == ("127.0.0.1", "localhost", "[::1]")
    assert s.probe == ProbeSettings() and s.probe.enabled is False and s.probe.aid is None
    assert s.upgrade == UpgradeSettings() and s.upgrade.est_url is None
    assert s.orders == OrderSettings() and s.orders.webhook_url is None
    assert s.token is None and s.token_file == tmp_path / "token"
    assert s.config_file is None and s.region_name == ""
    assert not hasattr(s, "demo_card") and not hasattr(s, "testhook_pause_at")
    # Settings(...) alone is the same declaration with the same defaults
    assert Settings(data_dir=tmp_path) == s


def test_default_data_folder_is_the_per_user_folder(tmp_path: Path, monkeypatch) -> None:
    """platformdirs' user data folder, wherever the code runs from (no repository detection);
    the configuration file is looked for there."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    expected = Path(platformdirs.user_data_dir("cardagent", appauthor=False))
    assert default_data_dir() == expected
    if sys.platform.startswith("linux"):
        assert expected == tmp_path / "xdg" / "cardagent"
    assert REPO not in expected.parents
    s = load_settings({})
    assert s.data_dir == expected and s.config_file is None
    expected.mkdir(parents=True)
    write_toml(expected, "port = 9100\n")
    s = load_settings({})
    assert s.port == 9100 and s.config_file == expected / "cardagent.toml"
    assert Settings().data_dir == expected


def test_environment(env: dict[str, str]) -> None:
    s = load_settings(
        {
            **env,
            "CARDAGENT_PORT": "9000",
            "CARDAGENT_PKCS11_MODULE": "/opt/netid/libiidp11.so",
            "CARDAGENT_ALLOWED_ORIGINS": "http://localhost:5005, https://chat.example.test",
            "CARDAGENT_EXPIRY_WARNING_DAYS": "30",
            "CARDAGENT_TOKEN": "tok",
            "CARDAGENT_LOG_LEVEL": "DEBUG",
            "CARDAGENT_READER_FILTER": "",  # empty means unset
            "CARDAGENT_EST_URL": "https://est.example.test/.well-known/est",
            "CARDAGENT_ORDER_WEBHOOK_URL": "https://orders.example.test/orders",
            "CARDAGENT_PUK_COST_SEK": "350",
            "CARDAGENT_PUK_ORDER_MANUAL_URL": "https://intranet.region.test/siths/manual",
            "CARDAGENT_PCSC_PROBE": "1",
            "CARDAGENT_PCSC_PROBE_AID": "a0 00 00 00 63 50 4b 43 53 2d 31 35",
        }
    )
    assert s.port == 9000 and s.pkcs11_module == "/opt/netid/libiidp11.so"
    assert s.allowed_origins == ("http://localhost:5005", "https://chat.example.test")
    assert s.expiry_warning_days == 30 and s.log_level == "debug" and s.reader_filter is None
    assert s.token == "tok"
    assert s.upgrade.est_url == "https://est.example.test/.well-known/est"
    assert s.orders.webhook_url == "https://orders.example.test/orders"
    assert s.orders.cost_sek == 350
    assert s.orders.manual_url == "https://intranet.region.test/siths/manual"
    assert s.probe.enabled and s.probe.aid == AID


def _table_env_vars() -> list[tuple[str, str, str]]:
    return [
        (table, name, meta.name)
        for table, model in (
            ("probe", ProbeSettings),
            ("upgrade", UpgradeSettings),
            ("orders", OrderSettings),
        )
        for name, field in model.model_fields.items()
        for meta in field.metadata
        if isinstance(meta, Env)
    ]


def _sample(table: str, name: str) -> tuple[str, object]:
    special = {
        "est_url": ("https://est.test/.well-known/est",) * 2,
        "webhook_url": ("https://orders.test/orders",) * 2,
        "aid": (AID, AID),
        "enabled": ("yes", True),
        "manual_url": ("http://intranet.test/manual",) * 2,
    }
    if name in special:
        return special[name]
    default = getattr(
        {"probe": ProbeSettings, "upgrade": UpgradeSettings, "orders": OrderSettings}[table](), name
    )
    if isinstance(default, float):
        return "4097.5", 4097.5
    if isinstance(default, int):
        return "4097", 4097
    return "some text", "some text"


@pytest.mark.parametrize(("table", "name", "var"), _table_env_vars())
def test_each_table_variable_reaches_its_field(
    env: dict[str, str], table: str, name: str, var: str
) -> None:
    raw, expected = _sample(table, name)
    s = load_settings({**env, "CARDAGENT_PCSC_PROBE_AID": AID, var: raw})
    assert getattr(getattr(s, table), name) == expected


def test_documented_variables_are_the_settings() -> None:
    """docs/cardagent.md's settings tables name exactly the variables the settings read."""
    known = {"CARDAGENT_CONFIG", "CARDAGENT_DATA_DIR"}
    known |= {f"CARDAGENT_{n.upper()}" for n in Settings.model_fields} - {
        "CARDAGENT_DATA_DIR",
        "CARDAGENT_CONFIG_FILE",
        "CARDAGENT_PROBE",
        "CARDAGENT_ASSURANCE",
        "CARDAGENT_UPGRADE",
        "CARDAGENT_ORDERS",
    }
    known |= {var for _, _, var in _table_env_vars()}
    docs = (REPO / "docs" / "cardagent.md").read_text(encoding="utf-8")
    rows = [line for line in docs.splitlines() if line.startswith("| `CARDAGENT_")]
    documented = {v for row in rows for v in re.findall(r"`(CARDAGENT_[A-Z0-9_]+)`", row)}
    assert documented == known


def test_file_and_environment_order(tmp_path: Path, env: dict[str, str]) -> None:
    """Environment over file over defaults, field by field, tables merged."""
    write_toml(
        tmp_path,
        """
expiry_warning_days = 45
allowed_origins = ["http://localhost:5005"]
token = "from-file"
[upgrade]
key_bits = 3072
est_url = "https://file.example.test/est"
[upgrade.est_labels]
pnr-sign = "signing"
[puk_orders]
cost_sek = 100
open_days = 7
""",
    )
    s = load_settings(
        {
            **env,
            "CARDAGENT_EXPIRY_WARNING_DAYS": "10",
            "CARDAGENT_EST_URL": "https://env.example.test/est",
            "CARDAGENT_PUK_COST_SEK": "300",
        }
    )
    assert s.config_file == tmp_path / "cardagent.toml"
    assert s.expiry_warning_days == 10  # env wins over the file
    assert s.allowed_origins == ("http://localhost:5005",) and s.token == "from-file"
    assert s.upgrade.est_url == "https://env.example.test/est" and s.upgrade.key_bits == 3072
    assert s.upgrade.est_labels["pnr-sign"] == "signing"
    assert s.upgrade.est_labels["hsaid-auth"] == "hsaid-auth"  # the other labels stay
    assert (s.orders.cost_sek, s.orders.open_days, s.orders.timeout_s) == (300, 7, 10.0)
    # explicit arguments win over everything; they are validated like the rest
    assert s.with_overrides(expiry_warning_days=1).expiry_warning_days == 1
    assert s.with_overrides(expiry_warning_days=1).upgrade == s.upgrade


def test_config_variable_names_the_file(tmp_path: Path, env: dict[str, str]) -> None:
    write_toml(tmp_path, "port = 9001\n")
    other = tmp_path / "elsewhere.toml"
    other.write_text('port = 9002\ndata_dir = "~/agent-data"\n', encoding="utf-8")
    s = load_settings({**env, "CARDAGENT_CONFIG": str(other)})
    assert s.port == 9002 and s.config_file == other
    assert s.data_dir == tmp_path  # the environment wins here too
    # the file alone may move the data folder (token, database)
    s = load_settings({"CARDAGENT_CONFIG": str(other)})
    assert s.data_dir == Path.home() / "agent-data" and s.token_file.parent == s.data_dir


def test_arguments_alone_read_no_environment(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("CARDAGENT_PORT", "9999")
    monkeypatch.setenv("CARDAGENT_DATA_DIR", str(tmp_path))
    assert Settings().port == 8765  # tests build settings without the caller's environment
    assert load_settings().port == 9999  # the agent reads os.environ
    assert load_settings({"CARDAGENT_DATA_DIR": str(tmp_path)}).port == 8765  # only this one


@pytest.mark.parametrize(
    ("extra", "toml", "message"),
    [
        ({"CARDAGENT_HOST": "0.0.0.0"}, "", "non-loopback"),
        ({"CARDAGENT_HOST": "example.org"}, "", "non-loopback"),
        ({}, 'host = "10.0.0.1"\n', "non-loopback"),
        ({"CARDAGENT_ALLOWED_ORIGINS": "http://a.test,*"}, "", r"'\*' is not allowed"),
        ({}, 'allowed_origins = ["*"]\n', r"'\*' is not allowed"),
        ({"CARDAGENT_PORT": "0"}, "", "port"),
        ({"CARDAGENT_PORT": "65536"}, "", "port"),
        ({"CARDAGENT_EXPIRY_WARNING_DAYS": "-1"}, "", "expiry_warning_days"),
        ({"CARDAGENT_EST_URL": "http://est.test/est"}, "", "CARDAGENT_EST_URL.*https://"),
        ({}, '[puk_orders]\nwebhook_url = "http://o.test"\n', "webhook_url.*https://"),
        ({"CARDAGENT_PCSC_PROBE": "1"}, "", r"set \[probe\] aid"),
        ({}, "[probe]\nenabled = true\n", r"set \[probe\] aid"),
        ({"CARDAGENT_PCSC_PROBE_AID": "F0-53"}, "", "probe.aid"),
        ({"CARDAGENT_LOG_LEVEL": "loud"}, "", "log_level"),
        ({}, 'upgrade_deadline = "2021-12-09"\n', "upgrade_deadline"),  # removed: the bot decides
        ({}, '[puk_orders]\ncost_note = "x"\n', "puk_orders.cost_note"),  # removed: templates
        ({"CARDAGENT_PUK_ORDER_MANUAL_URL": "intranet/manual"}, "", "manual_url.*http"),
        ({"CARDAGENT_PUK_ORDER_MANUAL_URL": "https://a.test/x y"}, "", "manual_url"),
        ({}, "expiry_warnings_days = 3\n", "expiry_warnings_days"),  # a typo is refused
        ({}, "[upgrade]\nest_ur = 'https://x.test'\n", "upgrade.est_ur"),
        ({}, "this is = = not toml", "cannot read config file"),
    ],
)
def test_refused(tmp_path: Path, env: dict[str, str], extra: dict, toml: str, message: str) -> None:
    if toml:
        write_toml(tmp_path, toml)
    with pytest.raises(ConfigError, match=message):
        load_settings({**env, **extra})


def test_non_loopback_needs_the_override(env: dict[str, str]) -> None:
    s = load_settings({**env, "CARDAGENT_HOST": "0.0.0.0", "CARDAGENT_ALLOW_NON_LOOPBACK": "1"})
    assert s.host == "0.0.0.0"
    assert load_settings({**env, "CARDAGENT_HOST": "::1"}).host == "::1"
    with pytest.raises(ValueError, match="non-loopback"):
        Settings().with_overrides(host="10.0.0.1")


def test_missing_config_file_is_clear(tmp_path: Path, env: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="points to a missing file"):
        load_settings({**env, "CARDAGENT_CONFIG": str(tmp_path / "nope.toml")})


def test_secrets_stay_out_of_repr_and_errors(tmp_path: Path, env: dict[str, str]) -> None:
    write_toml(tmp_path, '[upgrade]\nest_password = "est-secret-2"\n')
    s = load_settings(
        {**env, "CARDAGENT_TOKEN": "tok-secret-1", "CARDAGENT_ORDER_WEBHOOK_TOKEN": "hook-secret-3"}
    )
    assert (s.token, s.upgrade.est_password, s.orders.webhook_token) == (
        "tok-secret-1",
        "est-secret-2",
        "hook-secret-3",
    )
    for text in (repr(s), str(s), repr(s.upgrade), repr(s.orders)):
        assert not re.search(r"(tok|est|hook)-secret", text)
    with pytest.raises(ConfigError) as err:
        load_settings({**env, "CARDAGENT_PUK_COST_SEK": "cost-secret-4"})
    assert "cost-secret-4" not in str(err.value) and "CARDAGENT_PUK_COST_SEK" in str(err.value)


def test_old_demo_marker_means_nothing(tmp_path: Path, env: dict[str, str]) -> None:
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "demo.json").write_text(
        '{"card": "old", "pkcs11_module": "/usr/lib/softhsm/libsofthsm2.so", "pcsc_probe": true}'
    )
    s = load_settings(env)
    assert s.pkcs11_module == default_module_path() and not s.probe.enabled


def test_assurance_mapping(tmp_path: Path, env: dict[str, str]) -> None:
    write_toml(
        tmp_path,
        """
[assurance.ca_names]
"Region Test CA" = { level = 3, family = "siths_eid" }
"Region Level Two CA" = 2
[assurance.policy_oids]
"1.2.752.74.8.512" = { level = 3, family = "siths_eid" }
""",
    )
    m = load_settings(env).assurance
    assert m.lookup("Region Test CA", []).level == 3
    assert m.lookup("Region Level Two CA", []).level == 2
    assert m.lookup("SITHS e-id Person ID 2 CA v1", []).level == 2  # built-in names stay
    assert m.lookup("SITHS Type 1 CA v1", []).family == FAMILY_LEGACY
    # policy OID wins over the CA name
    assert m.lookup("SITHS Type 1 CA v1", ["1.2.752.74.8.512"]).family == FAMILY_EID
    assert m.lookup("Some Bank CA", ["1.2.3"]) is None
    write_toml(tmp_path, '[assurance]\nreplace_defaults = true\n[assurance.ca_names]\n"X" = 3\n')
    m = load_settings(env).assurance
    assert m.lookup("X", []).level == 3 and m.lookup("SITHS Type 1 CA v1", []) is None


def test_region_name(tmp_path: Path, env: dict[str, str]) -> None:
    from devtools.site_region import region_name

    assert load_settings(env).region_name == ""
    assert load_settings({**env, "CARDAGENT_REGION_NAME": " Region Test "}).region_name == (
        "Region Test"
    )
    write_toml(tmp_path, f'region_name = "Region Fil {"x" * 100}"\n')
    assert load_settings(env).region_name == "Region Fil " + "x" * 69  # at most 80 characters
    site = tmp_path / "site.yml"
    site.write_text("region_name: Region Halland\nservicecenter: {}\n", encoding="utf-8")
    assert region_name(site) == "Region Halland"
    assert region_name(tmp_path / "missing.yml") == ""


def test_demo_card_configuration_is_an_ordinary_config(tmp_path: Path) -> None:
    """What `make demo-card` writes: read back by load_settings, absolute paths only."""
    from devtools.demo_card import demo_config, toml_text
    from devtools.emulator import TEST_APPLET_AID
    from devtools.softhsm import SOFTHSM2_MODULE

    data = tmp_path / "agent data"
    data.mkdir()
    manual = "https://intranet.region.test/siths/manual"
    config = demo_config(data, "Virtual PCD 00 01", 18443, 18444, 'Region "Test" Å', manual)
    (data / "cardagent.toml").write_text(toml_text(config, "test"), encoding="utf-8")
    s = load_settings({"CARDAGENT_DATA_DIR": str(data)})
    assert s.config_file == data / "cardagent.toml" and s.data_dir == data
    assert s.pkcs11_module == SOFTHSM2_MODULE
    assert s.softhsm2_conf == str(data / "demo" / "softhsm2.conf")
    assert s.probe.enabled and s.probe.aid == TEST_APPLET_AID
    assert s.reader_filter == "Virtual PCD 00 01" and s.region_name == 'Region "Test" Å'
    assert s.upgrade.est_url == "https://127.0.0.1:18443/.well-known/est"
    assert s.orders.webhook_url == "https://127.0.0.1:18444/orders"
    assert s.orders.manual_url == manual
    assert "manual_url" not in demo_config(data, "R", 1, 2, "")["puk_orders"]
    paths = [
        s.softhsm2_conf,
        s.upgrade.est_tls_ca,
        s.upgrade.est_trust_anchors,
        s.orders.webhook_tls_ca,
    ]
    assert all(Path(p).is_absolute() and data in Path(p).parents for p in paths)
    assert str(REPO) not in (data / "cardagent.toml").read_text(encoding="utf-8")


def test_print_token_file(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARDAGENT_")}
    env["CARDAGENT_DATA_DIR"] = str(tmp_path / "data")
    cmd = [sys.executable, "-m", "cardagent", "--print-token-file"]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60, check=True)
    path = Path(out.stdout.strip())
    assert path == tmp_path / "data" / "token" and len(path.read_text().strip()) >= 40
    if os.name == "posix":
        assert path.stat().st_mode & 0o777 == 0o600
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60, check=True)
    assert again.stdout == out.stdout  # the same file, not a new token
    token = subprocess.run(
        [sys.executable, "-m", "cardagent", "--print-token"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert token.stdout.strip() == path.read_text().strip()


def test_access_log_keeps_the_path_only() -> None:
    import logging

    from cardagent.logsafety import PathOnlyAccessFilter, SecretQueryFilter

    token = "Zx9-secret-link-token"
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", f"/pin/0123456789abcdef?t={token}", "1.1", 303),
        None,
    )
    assert PathOnlyAccessFilter().filter(record)
    assert record.getMessage() == '127.0.0.1:5000 - "GET /pin/0123456789abcdef HTTP/1.1" 303'
    other = logging.LogRecord(
        "cardagent", logging.WARNING, __file__, 1, "opened %s", (f"/orders/x?a=1&t={token}",), None
    )
    assert SecretQueryFilter().filter(other)
    assert token not in other.getMessage() and "t=<redacted>" in other.getMessage()


def test_demo_card_leaves_a_foreign_config_alone(tmp_path: Path) -> None:
    """`make demo-card` never overwrites or removes a cardagent.toml it did not write."""
    from devtools.demo_card import DemoError, make_demo_card, stop_demo

    own = write_toml(tmp_path, 'pkcs11_module = "/usr/lib/libiidp11.so"\n')
    with pytest.raises(DemoError, match="not written by the demo card"):
        make_demo_card("upgraded", tmp_path)
    stop_demo(tmp_path, keep_pcscd=True)
    assert own.read_text(encoding="utf-8") == 'pkcs11_module = "/usr/lib/libiidp11.so"\n'
    assert not (tmp_path / "demo").exists()
    own.write_text("# Written by devtools.demo_card: the demo card\n", encoding="utf-8")
    stop_demo(tmp_path, keep_pcscd=True)
    assert not own.exists()


def test_site_links_for_the_agent(tmp_path: Path) -> None:
    """The order page's manual link comes from site.yml, never an example value."""
    from devtools.site_region import is_example_url, link, main, region_name

    site = tmp_path / "site.yml"
    site.write_text(
        "region_name: Region Halland\n"
        "links:\n"
        "  order_codes_manual: https://intranet.region.test/siths/manual\n"
        "  help: https://intranat.example.org/siths/hjalp\n"
        "  puk_order: !example https://intranet.region.test/siths/puk\n",
        encoding="utf-8",
    )
    assert link("order_codes_manual", site) == "https://intranet.region.test/siths/manual"
    assert link("help", site) == "" and link("missing", site) == ""
    assert link("puk_order", site) == ""  # tagged as an example in site.yml
    assert region_name(site) == "Region Halland"  # the tags do not hide the rest
    assert is_example_url("https://example.com/x") and is_example_url("http://a.example/")
    assert not is_example_url("https://example.org.region.se/x")
    assert main(["--link"]) == 2
    # the project's own site.yml (examples tagged !example) still gives the region's name
    assert region_name(REPO / "site.yml") != ""
