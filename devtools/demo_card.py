"""``make demo-card CARD=<name>``: an emulated SITHS card for trying the agent without a card.

``python -m devtools.demo_card CARD [--data-dir DIR] [--vpcd-port N] [--json]`` writes an
ordinary agent configuration, ``<DIR>/cardagent.toml``: SoftHSM2 as the PKCS#11 module, the
PC/SC probe on the emulator's applet, the reader, the local EST test CA and order receiver,
the region's name and (unless it is an example value) the manual for ordering codes from
site.yml. Every path in it is absolute and outside the repository, so
``python -m cardagent`` or the packaged executable serves the demo card from anywhere. Its
files go under ``<DIR>/demo/``:
  softhsm2.conf + tokens/   the card's two SoftHSM2 tokens (PKCS#11 side)
  pki/, tls/                the TEST CA keys and the demo services' TLS files (kept between runs)
  card.json                 the emulated card (ATR, serials, PIN counters; kept up to date)
It starts pcscd (if none runs), the emulator and the demo services (devtools/demo_services.py)
in the background; pid files and logs in ``<DIR>/run/``. DIR defaults to where the agent
looks: ``CARDAGENT_DATA_DIR``, else the agent's per-user data folder.
``--stop`` stops them (pcscd only if the demo started it and not with ``--keep-pcscd``) and
removes the configuration file it wrote. A ``cardagent.toml`` it did not write is never
overwritten or removed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

from cardagent.settings import CONFIG_FILE_NAME, resolve_data_dir
from devtools.cards import DEMO_PIN_LEGITIMERING, DEMO_PIN_UNDERSKRIFT, DEMO_PUK, PROFILES
from devtools.demo_services import EST_PORT, ORDER_PORT, in_use, service_settings
from devtools.emulator import READER_NAMES, TEST_APPLET_AID, VPCD_PORTS
from devtools.pcscd import pcscd_running, start_pcscd, stop_process

MARK = "# Written by devtools.demo_card"


class DemoError(RuntimeError):
    """The demo card cannot be set up; the message says why."""


def _pid_alive(pid_file: Path) -> int | None:
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def _written_by_demo(path: Path) -> bool:
    try:
        with path.open(encoding="utf-8") as fh:
            return fh.readline().startswith(MARK)
    except OSError:
        return False


def stop_demo(data_dir: Path, *, keep_pcscd: bool = False) -> None:
    """Stop the demo's processes and remove the configuration file the demo wrote."""
    run = data_dir / "run"
    names = ["emulator", "services"] + ([] if keep_pcscd else ["pcscd"])
    for name in names:
        pid = _pid_alive(run / f"{name}.pid")
        if pid:
            stop_process(pid)
        (run / f"{name}.pid").unlink(missing_ok=True)
    config = data_dir / CONFIG_FILE_NAME
    if _written_by_demo(config):
        config.unlink()


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):  # a JSON string is a TOML basic string, DEL aside
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    raise TypeError(f"no TOML for {value!r}")


def toml_text(data: dict[str, Any], comment: str) -> str:
    """``data`` (top-level values, then one level of tables) as TOML, checked by reading back."""
    lines = [f"{MARK}: {comment}"]
    lines += [f"{k} = {_toml_value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    for name, table in data.items():
        if isinstance(table, dict):
            lines += ["", f"[{name}]"] + [f"{k} = {_toml_value(v)}" for k, v in table.items()]
    text = "\n".join(lines) + "\n"
    if tomllib.loads(text) != data:
        raise DemoError("the demo configuration does not read back as written")
    return text


def demo_config(
    data_dir: Path,
    reader: str,
    est_port: int,
    order_port: int,
    region: str,
    manual_url: str = "",
) -> dict[str, Any]:
    """The agent's configuration for a demo card under ``data_dir`` (absolute paths)."""
    from devtools.softhsm import SOFTHSM2_MODULE

    demo = data_dir / "demo"
    config: dict[str, Any] = {
        "data_dir": str(data_dir),
        "pkcs11_module": SOFTHSM2_MODULE,
        "softhsm2_conf": str(demo / "softhsm2.conf"),
        "reader_filter": reader,
    }
    if region:
        config["region_name"] = region
    config["probe"] = {"enabled": True, "aid": TEST_APPLET_AID}
    config.update(service_settings(demo, est_port, order_port))
    if manual_url:
        config["puk_orders"]["manual_url"] = manual_url
    return config


def _port_for(preferred: int) -> int:
    """``preferred`` if nothing listens there (another demo may), else a free one."""
    if not in_use(preferred):
        return preferred
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(args: list[str], log_file: Path, pid_file: Path) -> None:
    with log_file.open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", *args],
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    pid_file.write_text(str(proc.pid))


def _wait_listening(ports: tuple[int, ...], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if all(in_use(p) for p in ports):
            return True
        time.sleep(0.1)
    return False


def make_demo_card(name: str, data_dir: Path, port: int = VPCD_PORTS[0]) -> dict[str, Any]:
    """Set up the demo card ``name`` in ``data_dir``; returns what ``--json`` prints."""
    from cardagent.pcsc import wait_for_change
    from devtools.pki import TestPKI
    from devtools.site_region import link, region_name
    from devtools.softhsm import provision_card, write_softhsm_conf

    profile = PROFILES[name]
    reader = READER_NAMES[port]
    data_dir = data_dir.expanduser().resolve()
    config_file = data_dir / CONFIG_FILE_NAME
    if config_file.exists() and not _written_by_demo(config_file):
        raise DemoError(
            f"{config_file} exists and was not written by the demo card; "
            "move it away or choose another --data-dir"
        )
    demo, run = data_dir / "demo", data_dir / "run"
    stop_demo(data_dir, keep_pcscd=True)
    shutil.rmtree(demo / "tokens", ignore_errors=True)
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    demo.mkdir(exist_ok=True)
    run.mkdir(exist_ok=True)
    card = provision_card(write_softhsm_conf(demo), TestPKI(demo / "pki"), profile)
    card_file = demo / "card.json"
    card_file.write_text(json.dumps(card.emulator_card(), indent=2), encoding="utf-8")
    est_port, order_port = _port_for(EST_PORT), _port_for(ORDER_PORT)
    config = demo_config(
        data_dir, reader, est_port, order_port, region_name(), link("order_codes_manual")
    )
    config_file.write_text(
        toml_text(config, f'the demo card "{name}". `make demo-card-stop` removes this file.'),
        encoding="utf-8",
    )

    if not pcscd_running():
        proc = start_pcscd(log_file=run / "pcscd.log", detach=True)
        (run / "pcscd.pid").write_text(str(proc.pid))
    emulator = ["devtools.emulator", "--card", str(card_file), "--port", str(port)]
    _start(emulator, run / "emulator.log", run / "emulator.pid")
    services = ["devtools.demo_services", "--data-dir", str(data_dir)]
    services += ["--est-port", str(est_port), "--order-port", str(order_port)]
    _start(services, run / "services.log", run / "services.pid")
    if not wait_for_change(reader, True, timeout_s=5):
        raise DemoError(f"the emulated card did not appear in {reader}; see {run}/emulator.log")
    if not _wait_listening((est_port, order_port), timeout_s=30):
        raise DemoError(f"the demo services did not start; see {run}/services.log")
    return {
        "data_dir": str(data_dir),
        "config": str(config_file),
        "reader": reader,
        "vpcd_port": port,
        "est_port": est_port,
        "order_port": order_port,
        "card": name,
    }


def _describe(info: dict[str, Any]) -> str:
    p = PROFILES[info["card"]]
    env = (
        ""
        if Path(info["data_dir"]) == resolve_data_dir({}).resolve()
        else f"CARDAGENT_DATA_DIR={info['data_dir']} "
    )
    return (
        f"Demo card '{p.name}' is in reader '{info['reader']}': {p.description}.\n"
        f"  expected state: {p.expected_state}\n"
        f"  demo PINs: legitimering {DEMO_PIN_LEGITIMERING}, underskrift {DEMO_PIN_UNDERSKRIFT}, "
        f"PUK {DEMO_PUK}\n"
        f"  agent configuration: {info['config']} (demo files in {info['data_dir']}/demo)\n"
        f"Now run `{env}python -m cardagent` (make cardagent) and:\n"
        f'  curl -s -H "Authorization: Bearer $(cat $({env}python -m cardagent '
        '--print-token-file))" http://127.0.0.1:8765/v1/card/state\n'
        f"The EST test CA (https://127.0.0.1:{info['est_port']}) and the order receiver "
        f"(https://127.0.0.1:{info['order_port']}) run too, for POST /v1/upgrade and "
        "/v1/puk-orders.\nStop it with `make demo-card-stop`."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.demo_card", description=__doc__.split("\n")[0]
    )
    parser.add_argument("card", nargs="?", help="|".join(PROFILES))
    parser.add_argument("--data-dir", type=Path, help="default: the agent's data folder")
    parser.add_argument(
        "--vpcd-port", type=int, choices=sorted(READER_NAMES), default=VPCD_PORTS[0]
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--stop", action="store_true", help="stop the demo card, remove its file")
    parser.add_argument("--keep-pcscd", action="store_true", help="with --stop: leave pcscd")
    parser.add_argument("--list", action="store_true", help="list the demo cards")
    args = parser.parse_args(argv)
    data_dir = (args.data_dir or resolve_data_dir()).expanduser()
    if args.list or (not args.card and not args.stop):
        for p in PROFILES.values():
            print(f"  {p.name:24} {p.expected_state:28} {p.description}")
        return 0 if args.list else 2
    if args.stop:
        stop_demo(data_dir, keep_pcscd=args.keep_pcscd)
        if not args.json:
            print(
                "Demo card removed: its configuration file, the emulator, the demo services "
                "and pcscd if the demo started it."
            )
        return 0
    if args.card not in PROFILES:
        print(f"unknown card {args.card!r}; choose one of: {', '.join(PROFILES)}", file=sys.stderr)
        return 2
    for var in ("CARDAGENT_CONFIG", "CARDAGENT_PKCS11_MODULE"):
        if os.environ.get(var):
            print(f"note: {var} is set, so the agent will not use the demo card", file=sys.stderr)
    try:
        info = make_demo_card(args.card, data_dir, port=args.vpcd_port)
    except DemoError as exc:
        print(f"demo card: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(info) if args.json else _describe(info))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
