"""Run an ASGI app with uvicorn over HTTPS in a background thread (tests and demo tools)."""

from __future__ import annotations

import threading
import time
from typing import Any

import uvicorn

from devtools.pki import TlsFiles


def serve_https(app: Any, port: int, tls: TlsFiles, host: str = "127.0.0.1") -> None:
    """Run ``app`` over HTTPS in the foreground (the demo tools' ``main``)."""
    uvicorn.run(
        app,
        host=host,
        port=port,
        ssl_certfile=str(tls.cert),
        ssl_keyfile=str(tls.key),
        log_level="info",
    )


class ThreadedServer:
    def __init__(self, app: Any, port: int, tls: TlsFiles, host: str = "127.0.0.1") -> None:
        self.port = port
        self.host = host
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            ssl_certfile=str(tls.cert),
            ssl_keyfile=str(tls.key),
            log_level="warning",
            lifespan="off",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True, name=f"https-{port}")

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> ThreadedServer:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"server on port {self.port} did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
