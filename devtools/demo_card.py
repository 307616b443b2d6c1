"""``make demo-card CARD=<name>``: an emulated SITHS card for trying the agent without a card.

Writes under ``<data_dir>/demo/`` (default ``var/cardagent/demo/``):
  softhsm2.conf + tokens/   the card's two SoftHSM2 tokens (PKCS#11 side)
  pki/                      the TEST CA keys (kept between runs)
  card.json                 the emulated card (ATR, serials, PIN counters; kept up to date)
  demo.json                 the marker the agent's config reads when CARDAGENT_PKCS11_MODULE
                            is not set: module = SoftHSM2, SOFTHSM2_CONF, PC/SC probe on
and starts pcscd (if none runs) and the emulator in the background, pid files in
``<data_dir>/run/``. ``--stop`` stops them and removes the marker.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from cardagent.config import DEMO_MARKER, SOFTHSM2_MODULE, load_settings
from devtools.cards import DEMO_PIN_LEGITIMERING, DEMO_PIN_UNDERSKRIFT, DEMO_PUK, PROFILES
from devtools.demo_services import service_settings
from devtools.emulator import READER_NAMES, VPCD_PORTS
from devtools.pcscd import pcscd_running, start_pcscd, stop_process


def _pid_alive(pid_file: Path) -> int | None:
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def stop_demo(data_dir: Path, *, keep_pcscd: bool = False) -> None:
    run = data_dir / "run"
    for name in ("emulator", "services"):
        pid = _pid_alive(run / f"{name}.pid")
        if pid:
            stop_process(pid)
        (run / f"{name}.pid").unlink(missing_ok=True)
    if not keep_pcscd:
        pid = _pid_alive(run / "pcscd.pid")
        if pid:
            stop_process(pid)
        (run / "pcscd.pid").unlink(missing_ok=True)


def make_demo_card(name: str, data_dir: Path, port: int = VPCD_PORTS[0]) -> dict:
    from devtools.pki import TestPKI
    from devtools.site_region import region_name
    from devtools.softhsm import provision_card, write_softhsm_conf

    profile = PROFILES[name]
    demo = data_dir / "demo"
    run = data_dir / "run"
    stop_demo(data_dir, keep_pcscd=True)
    shutil.rmtree(demo / "tokens", ignore_errors=True)
    demo.mkdir(parents=True, exist_ok=True)
    run.mkdir(parents=True, exist_ok=True)
    conf = write_softhsm_conf(demo)
    card = provision_card(conf, TestPKI(demo / "pki"), profile)
    card_file = demo / "card.json"
    card_file.write_text(json.dumps(card.emulator_card(), indent=2), encoding="utf-8")
    marker = {
        "card": name,
        "pkcs11_module": SOFTHSM2_MODULE,
        "softhsm2_conf": str(conf),
        "pcsc_probe": True,
        "reader": READER_NAMES[port],
        # shown on the agent's own pages (site.yml's region_name; CARDAGENT_REGION_NAME wins)
        "region_name": region_name(),
        # the EST test CA and the order receiver (devtools/demo_services.py), started below
        "services": service_settings(demo),
    }
    (data_dir / DEMO_MARKER).write_text(json.dumps(marker, indent=2), encoding="utf-8")

    if not pcscd_running():
        proc = start_pcscd(log_file=run / "pcscd.log", detach=True)
        (run / "pcscd.pid").write_text(str(proc.pid))
    log = open(run / "emulator.log", "ab")  # noqa: SIM115 - handed to the child
    emu = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "devtools.emulator",
            "--card",
            str(card_file),
            "--port",
            str(port),
        ],
        stdout=log,
        stderr=log,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    (run / "emulator.pid").write_text(str(emu.pid))
    svc_log = open(run / "services.log", "ab")  # noqa: SIM115 - handed to the child
    svc = subprocess.Popen(
        [sys.executable, "-m", "devtools.demo_services"],
        stdout=svc_log,
        stderr=svc_log,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        env={**os.environ, "CARDAGENT_DATA_DIR": str(data_dir)},
    )
    (run / "services.pid").write_text(str(svc.pid))
    from cardagent.pcsc import wait_for_change

    if not wait_for_change(READER_NAMES[port], True, timeout_s=5):
        raise RuntimeError(
            f"the emulated card did not appear in {READER_NAMES[port]}; see {run}/emulator.log"
        )
    return marker


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="make demo-card CARD=", description=__doc__.split("\n")[0]
    )
    parser.add_argument("card", nargs="?", help="|".join(PROFILES))
    parser.add_argument(
        "--stop", action="store_true", help="remove the demo card and stop its processes"
    )
    parser.add_argument("--list", action="store_true", help="list the demo cards")
    args = parser.parse_args(argv)
    data_dir = load_settings(
        {k: v for k, v in os.environ.items() if k == "CARDAGENT_DATA_DIR"}
    ).data_dir
    if args.list or (not args.card and not args.stop):
        for p in PROFILES.values():
            print(f"  {p.name:24} {p.expected_state:28} {p.description}")
        return 0 if args.list else 2
    if args.stop:
        stop_demo(data_dir)
        (data_dir / DEMO_MARKER).unlink(missing_ok=True)
        print("Demo card removed; pcscd (if the demo started it) and the emulator stopped.")
        return 0
    if args.card not in PROFILES:
        print(f"unknown card {args.card!r}; choose one of: {', '.join(PROFILES)}", file=sys.stderr)
        return 2
    if os.environ.get("CARDAGENT_PKCS11_MODULE"):
        print(
            "note: CARDAGENT_PKCS11_MODULE is set, so the agent will ignore the demo card",
            file=sys.stderr,
        )
    marker = make_demo_card(args.card, data_dir)
    p = PROFILES[args.card]
    print(
        f"Demo card '{p.name}' is in reader '{marker['reader']}': {p.description}.\n"
        f"  expected state: {p.expected_state}\n"
        f"  demo PINs: legitimering {DEMO_PIN_LEGITIMERING}, underskrift {DEMO_PIN_UNDERSKRIFT}, "
        f"PUK {DEMO_PUK}\n"
        f"  files: {data_dir / 'demo'}\n"
        "Now run `make cardagent` (or `python -m cardagent`) and, with the token from "
        f"{data_dir / 'token'}:\n"
        '  curl -s -H "Authorization: Bearer $(cat '
        f'{data_dir / "token"})" http://127.0.0.1:8765/v1/card/state\n'
        "The EST test CA (https://127.0.0.1:8443) and the order receiver "
        "(https://127.0.0.1:8444) run too, for POST /v1/upgrade and /v1/puk-orders.\n"
        "Stop it with `make demo-card-stop`."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
