"""The demo's stand-ins for the outside world: the EST test CA and the order receiver.

``python -m devtools.demo_services [--data-dir DIR]`` runs both in the foreground over HTTPS
with the demo card's test PKI and TLS files from ``<DIR>/demo/``, on the ports the demo card's
configuration (``<DIR>/cardagent.toml``, written by ``python -m devtools.demo_card``) names in
``[upgrade] est_url`` and ``[puk_orders] webhook_url``; without one, on 8443 and 8444.
``--est-port``/``--order-port`` override them. ``make demo-card`` starts it in the background.
Exits 0 at once if a port is already served (a second start is harmless).
"""

from __future__ import annotations

import argparse
import signal
import socket
import threading
from pathlib import Path
from urllib.parse import urlsplit

from cardagent.settings import ConfigError, load_settings, resolve_data_dir
from devtools.est_ca import DEFAULT_PORT as EST_PORT
from devtools.est_ca import EstTestCA
from devtools.order_receiver import DEFAULT_PORT as ORDER_PORT
from devtools.order_receiver import OrderReceiver
from devtools.pki import TestPKI, tls_server_files
from devtools.servers import ThreadedServer


def service_settings(demo: Path, est_port: int = EST_PORT, order_port: int = ORDER_PORT) -> dict:
    """The agent's ``[upgrade]`` and ``[puk_orders]`` tables for these services."""
    tls = tls_server_files(demo / "tls")
    return {
        "upgrade": {
            "est_url": f"https://127.0.0.1:{est_port}/.well-known/est",
            "est_tls_ca": str(tls.ca),
            "est_trust_anchors": str(demo / "est-trust-anchors.pem"),
        },
        "puk_orders": {
            "webhook_url": f"https://127.0.0.1:{order_port}/orders",
            "webhook_tls_ca": str(tls.ca),
        },
    }


def configured_ports(data_dir: Path) -> tuple[int, int]:
    """The EST and order ports the agent's configuration in ``data_dir`` points to."""
    try:
        settings = load_settings({"CARDAGENT_DATA_DIR": str(data_dir)})
    except ConfigError:
        return EST_PORT, ORDER_PORT
    est = urlsplit(settings.upgrade.est_url or "").port
    order = urlsplit(settings.orders.webhook_url or "").port
    return est or EST_PORT, order or ORDER_PORT


def in_use(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, help="default: the agent's data folder")
    parser.add_argument("--est-port", type=int, help="default: from the demo configuration")
    parser.add_argument("--order-port", type=int, help="default: from the demo configuration")
    args = parser.parse_args(argv)
    data_dir = (args.data_dir or resolve_data_dir()).expanduser().resolve()
    est_port, order_port = configured_ports(data_dir)
    est_port, order_port = args.est_port or est_port, args.order_port or order_port
    demo = data_dir / "demo"
    demo.mkdir(parents=True, exist_ok=True)
    if in_use(est_port) or in_use(order_port):
        print(f"demo services: port {est_port} or {order_port} already in use; not starting")
        return 0
    tls = tls_server_files(demo / "tls")
    ca = EstTestCA(TestPKI(demo / "pki"))
    (demo / "est-trust-anchors.pem").write_bytes(ca.trust_anchors_pem())
    receiver = OrderReceiver(demo / "orders-received.db")
    est = ThreadedServer(ca.app, est_port, tls).start()
    orders = ThreadedServer(receiver.app, order_port, tls).start()
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
