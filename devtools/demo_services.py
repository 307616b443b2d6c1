"""The demo's stand-ins for the outside world: the EST test CA and the order receiver.

``python -m devtools.demo_services`` runs both in the foreground over HTTPS
(EST on 127.0.0.1:8443, orders on 127.0.0.1:8444) with the demo card's test PKI and TLS
files from ``<data_dir>/demo/``. ``make demo-card`` starts it in the background and writes
the URLs and trust files into the demo marker, so the agent finds them with no settings.
Exits 0 at once if the ports are already served (a second start is harmless).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import threading
from pathlib import Path

from cardagent.config import load_settings
from devtools.est_ca import DEFAULT_PORT as EST_PORT
from devtools.est_ca import EstTestCA
from devtools.order_receiver import DEFAULT_PORT as ORDER_PORT
from devtools.order_receiver import OrderReceiver
from devtools.pki import TestPKI, tls_server_files
from devtools.servers import ThreadedServer


def service_settings(demo: Path) -> dict[str, str]:
    """What the demo marker tells the agent (see config.load_settings)."""
    tls = tls_server_files(demo / "tls")
    return {
        "est_url": f"https://127.0.0.1:{EST_PORT}/.well-known/est",
        "est_tls_ca": str(tls.ca),
        "est_trust_anchors": str(demo / "est-trust-anchors.pem"),
        "webhook_url": f"https://127.0.0.1:{ORDER_PORT}/orders",
        "webhook_tls_ca": str(tls.ca),
    }


def _in_use(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(description=__doc__.split("\n")[0]).parse_args(argv)
    data_dir = load_settings(
        {k: v for k, v in os.environ.items() if k == "CARDAGENT_DATA_DIR"}
    ).data_dir
    demo = data_dir / "demo"
    demo.mkdir(parents=True, exist_ok=True)
    if _in_use(EST_PORT) or _in_use(ORDER_PORT):
        print(f"demo services: port {EST_PORT} or {ORDER_PORT} already in use; not starting")
        return 0
    tls = tls_server_files(demo / "tls")
    ca = EstTestCA(TestPKI(demo / "pki"))
    (demo / "est-trust-anchors.pem").write_bytes(ca.trust_anchors_pem())
    receiver = OrderReceiver(demo / "orders-received.db")
    est = ThreadedServer(ca.app, EST_PORT, tls).start()
    orders = ThreadedServer(receiver.app, ORDER_PORT, tls).start()
    print(
        f"EST test CA: {est.url}/.well-known/est   order receiver: {orders.url}/orders", flush=True
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    est.stop()
    orders.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
