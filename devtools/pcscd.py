"""Start and stop pcscd for the demo card and the tests (needs root: it creates /run/pcscd)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from smartcard import scard

PCSCD_PID_FILE = Path("/run/pcscd/pcscd.pid")


def pcscd_running() -> bool:
    """True if a pcscd answers a PC/SC context request."""
    hresult, hcontext = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hresult != scard.SCARD_S_SUCCESS:
        return False
    scard.SCardReleaseContext(hcontext)
    return True


def wait_for_readers(names: tuple[str, ...] = ("Virtual PCD",), timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        hresult, hcontext = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        if hresult == scard.SCARD_S_SUCCESS:
            hresult, readers = scard.SCardListReaders(hcontext, [])
            scard.SCardReleaseContext(hcontext)
            if hresult == scard.SCARD_S_SUCCESS and all(
                any(n in r for r in readers) for n in names
            ):
                return True
        time.sleep(0.05)
    return False


def start_pcscd(log_file: Path | None = None, detach: bool = False) -> subprocess.Popen:
    """Run ``pcscd -f`` as a child (or detached for the demo) and wait until it answers."""
    exe = shutil.which("pcscd") or "/usr/sbin/pcscd"
    if not Path(exe).exists():
        raise RuntimeError("pcscd is not installed (apt-get install pcscd vsmartcard-vpcd)")
    out = open(log_file, "ab") if log_file else subprocess.DEVNULL  # noqa: SIM115 - owned by the child
    proc = subprocess.Popen(
        [exe, "-f"], stdout=out, stderr=out, stdin=subprocess.DEVNULL, start_new_session=detach
    )
    if not wait_for_readers(timeout=5.0):
        proc.terminate()
        raise RuntimeError(
            "pcscd did not come up with the vpcd readers (is vsmartcard-vpcd installed?)"
        )
    return proc


def stop_process(pid: int, timeout: float = 5.0) -> None:
    """SIGTERM one process we started, then SIGKILL if it does not go."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
