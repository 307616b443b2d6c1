"""Time to read the card state (target: under 300 ms on SoftHSM2).

Builds the same stack as the tests (pcscd + vpcd emulator + SoftHSM2 tokens in a temp dir),
then times, for a few fixture cards:
  * service.read()          - PC/SC + probe + PKCS#11 + parse + classify (in-process)
  * GET /v1/card/state      - the same through FastAPI (ASGI, in-process)
  * cold read               - first read after the card was inserted (includes C_Initialize)
Prints a table and writes the raw numbers as JSON to benchmarks/results/. No asserts on time.
Runs in the agent's virtual environment (it imports cardagent and devtools):
Usage: .venv-agent/bin/python benchmarks/bench_cardagent.py [--rounds N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fastapi.testclient import TestClient  # noqa: E402

from cardagent import pcsc  # noqa: E402
from cardagent.api import create_app  # noqa: E402
from cardagent.settings import ProbeSettings, Settings  # noqa: E402
from devtools.cards import PROFILES  # noqa: E402
from devtools.emulator import TEST_APPLET_AID, VirtualCard  # noqa: E402
from devtools.pcscd import pcscd_running, start_pcscd  # noqa: E402
from devtools.pki import TestPKI  # noqa: E402
from devtools.softhsm import SOFTHSM2_MODULE, provision_card, write_softhsm_conf  # noqa: E402

PORT, READER = 35964, "Virtual PCD 00 01"
CARDS = ["old", "upgraded", "restored", "blocked", "unknown"]
TARGET_MS = 300.0


def _stats(samples: list[float]) -> dict[str, float]:
    s = sorted(samples)
    return {
        "n": len(s),
        "min": round(s[0], 2),
        "median": round(statistics.median(s), 2),
        "p95": round(s[min(len(s) - 1, int(len(s) * 0.95))], 2),
        "max": round(s[-1], 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    results: dict = {
        "when": dt.datetime.now(dt.UTC).isoformat(),
        "host": platform.node(),
        "python": platform.python_version(),
        "target_ms": TARGET_MS,
        "rounds": args.rounds,
        "cards": {},
    }
    pcscd = None if pcscd_running() else start_pcscd()
    reader = VirtualCard({"atr": "3B 00", "card_serial": "", "tokens": [], "pins": {}}, port=PORT)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-cardagent-") as tmp:
            root = Path(tmp)
            conf = write_softhsm_conf(root / "softhsm")
            pki = TestPKI(root / "pki")
            t0 = time.perf_counter()
            cards = {name: provision_card(conf, pki, PROFILES[name]) for name in CARDS}
            results["provision_s"] = round(time.perf_counter() - t0, 2)
            settings = Settings(
                data_dir=root / "data",
                pkcs11_module=SOFTHSM2_MODULE,
                softhsm2_conf=str(conf),
                token="bench",
                reader_filter=READER,
                probe=ProbeSettings(enabled=True, aid=TEST_APPLET_AID),
            )
            app = create_app(settings)
            service = app.state.service
            with TestClient(
                app, base_url="http://127.0.0.1:8765", headers={"Authorization": "Bearer bench"}
            ) as c:
                for name in CARDS:
                    reader.remove()
                    pcsc.wait_for_change(READER, False, 5)
                    reader.load(cards[name].emulator_card())
                    reader.insert()
                    pcsc.wait_for_change(READER, True, 5)
                    t = time.perf_counter()
                    state = service.read().classification.state
                    cold = (time.perf_counter() - t) * 1000
                    svc, http = [], []
                    for _ in range(args.rounds):
                        t = time.perf_counter()
                        service.read()
                        svc.append((time.perf_counter() - t) * 1000)
                        t = time.perf_counter()
                        r = c.get("/v1/card/state")
                        http.append((time.perf_counter() - t) * 1000)
                        assert r.status_code == 200, r.text
                    results["cards"][name] = {
                        "state": state,
                        "cold_ms": round(cold, 2),
                        "service_ms": _stats(svc),
                        "http_ms": _stats(http),
                        "raw_service_ms": [round(x, 3) for x in svc],
                        "raw_http_ms": [round(x, 3) for x in http],
                    }
    finally:
        reader.remove()
        if pcscd is not None:
            pcscd.terminate()
            pcscd.wait(timeout=5)

    print(
        f"Card agent: time to read the state (target < {TARGET_MS:.0f} ms), {args.rounds} rounds "
        f"per card"
    )
    print(
        f"{'card':10} {'state':28} {'cold':>8} {'svc med':>8} {'svc p95':>8} {'http med':>9} "
        f"{'http p95':>9}"
    )
    for name, r in results["cards"].items():
        print(
            f"{name:10} {r['state']:28} {r['cold_ms']:8.1f} {r['service_ms']['median']:8.1f} "
            f"{r['service_ms']['p95']:8.1f} {r['http_ms']['median']:9.1f} "
            f"{r['http_ms']['p95']:9.1f}"
        )
    worst = max(r["http_ms"]["p95"] for r in results["cards"].values())
    results["worst_http_p95_ms"] = worst
    print(
        f"worst HTTP p95: {worst:.1f} ms ({'within' if worst < TARGET_MS else 'OVER'} the "
        f"{TARGET_MS:.0f} ms target)"
    )
    out_dir = REPO / "benchmarks" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"cardagent-{dt.datetime.now():%Y%m%d-%H%M%S}.json"
    out.write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(f"raw numbers: {out.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
