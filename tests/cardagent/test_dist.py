"""The single-file executable (make agent-dist) serves the demo card with the repo moved away.

Issue 11, point 5: the PyInstaller build of the agent, copied to a folder of its own and
started there with only ``CARDAGENT_TOKEN`` in its environment (no repo, no venv, no
``CARDAGENT_DATA_DIR``), finds the configuration that ``python -m devtools.demo_card`` wrote
to the agent's default data folder and answers ``GET /v1/card/state`` for that card.

"The repo moved away" without moving the shared checkout: as root (and with util-linux
``unshare``), the executable runs in a mount namespace of its own where the checkout and the
Python installation behind the venvs are covered by empty tmpfs mounts, so neither is
reachable from the process at all (checked through ``/proc/<pid>/root``). In every case the
process tree is checked: no file it maps or holds open, no working directory and no
executable lies in the repo or a Python installation, and its environment is the token only.

The user's own default data folder is moved aside for the test and put back afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from devtools.cards import PROFILES

pytestmark = [
    pytest.mark.stack,
    pytest.mark.skipif(sys.platform != "linux", reason="the Linux executable (pcscd, /proc)"),
]

REPO = Path(__file__).resolve().parents[2]
EXE_NAME = "cardagent.exe" if os.name == "nt" else "cardagent"
DIST_EXE = REPO / "dist" / EXE_NAME
SPEC = REPO / "agent" / "packaging" / "cardagent.spec"
AGENT_URL = "http://127.0.0.1:8765"
TOKEN = "dist-test-token-6b1f0c2e9a"
CARD = "old"
# Python installations the executable must not use: this venv and the interpreter behind it.
PYTHON_DIRS = sorted({Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve()})


def _sources() -> list[Path]:
    agent = REPO / "agent"
    files = [agent / "pyproject.toml", *agent.glob("packaging/*")]
    for pattern in ("*.py", "*.html", "*.css"):
        files += (agent / "src" / "cardagent").rglob(pattern)
    return [f for f in files if f.is_file()]


def _built_exe() -> Path:
    """dist/cardagent, rebuilt with the spec when any agent source is newer."""
    newest = max(f.stat().st_mtime for f in _sources())
    if DIST_EXE.exists() and DIST_EXE.stat().st_mtime >= newest:
        return DIST_EXE
    started = time.monotonic()
    subprocess.run(
        [
            sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean",
            "--log-level", "WARN", "--distpath", str(REPO / "dist"),
            "--workpath", str(REPO / "build" / "pyinstaller"), str(SPEC),
        ],
        cwd=REPO,
        check=True,
        timeout=1200,
    )
    print(f"\nPyInstaller build: {time.monotonic() - started:.0f} s")
    return DIST_EXE


def _agent_default_data_dir() -> Path:
    """Where the agent looks with an empty environment (platformdirs, as the agent does)."""
    out = subprocess.run(
        [
            sys.executable, "-c",
            "import platformdirs; print(platformdirs.user_data_dir('cardagent', appauthor=False))",
        ],
        env={},
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(out.stdout.strip())


def _port_busy(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _demo_running(folder: Path) -> bool:
    for name in ("emulator", "services"):
        try:
            if psutil.pid_exists(int((folder / "run" / f"{name}.pid").read_text().strip())):
                return True
        except (OSError, ValueError):
            pass
    return False


@pytest.fixture
def default_data_dir() -> Iterator[Path]:
    """The agent's default data folder, emptied for the test; the user's own is put back."""
    folder = _agent_default_data_dir()
    if _demo_running(folder):
        pytest.skip(f"a demo card runs from {folder}; `make demo-card-stop` first")
    backup = folder.with_name(folder.name + ".test-dist-backup")
    if backup.exists():
        pytest.fail(f"{backup} is left from an interrupted run: move it back to {folder}")
    had = folder.exists() or folder.is_symlink()
    if had:
        os.rename(folder, backup)
    try:
        yield folder
    finally:
        if folder.is_symlink():
            folder.unlink()
        else:
            shutil.rmtree(folder, ignore_errors=True)
        if had:
            os.rename(backup, folder)


@pytest.fixture
def demo_card(default_data_dir: Path) -> Iterator[dict]:
    """``python -m devtools.demo_card old`` with no data folder given: it must pick the
    agent's default one."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARDAGENT_")}
    out = subprocess.run(
        [sys.executable, "-m", "devtools.demo_card", CARD, "--json"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout.strip().splitlines()[-1])
    try:
        yield info
    finally:
        subprocess.run(
            [sys.executable, "-m", "devtools.demo_card", "--stop", "--data-dir",
             str(default_data_dir)],
            cwd=REPO, env=env, capture_output=True, timeout=60,
        )


def _can_hide_repo() -> bool:
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or not shutil.which("unshare"):
        return False
    probe = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "true"], capture_output=True
    )
    return probe.returncode == 0


# Runs as root in a private mount namespace: cover each folder in $HIDE with an empty tmpfs,
# then replace itself with the agent, its environment reduced to the token.
HIDE_AND_RUN = """
set -e
IFS=:
for d in $HIDE; do mount -t tmpfs -o size=64k,mode=0555 cardagent-test-hidden "$d"; done
unset IFS
exec /usr/bin/env -i CARDAGENT_TOKEN="$CARDAGENT_TOKEN" ./{exe}
"""


def _start_agent(exe: Path, workdir: Path, log: Path, hide: bool) -> subprocess.Popen:
    if hide:
        # the repo (with the venvs inside it), then the Python installations outside it
        hidden = [REPO, *(d for d in PYTHON_DIRS if not _inside(d, REPO))]
        argv = ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
                HIDE_AND_RUN.format(exe=exe.name)]
        env = {"CARDAGENT_TOKEN": TOKEN, "HIDE": ":".join(map(str, hidden)),
               "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    else:
        argv, env = [str(exe)], {"CARDAGENT_TOKEN": TOKEN}
    with open(log, "wb") as fh:
        return subprocess.Popen(argv, cwd=workdir, env=env, stdout=fh, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)


def _stop(proc: subprocess.Popen) -> None:
    try:
        family = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    except psutil.Error:
        family = []
    proc.terminate()  # the PyInstaller bootloader passes SIGTERM on to the Python process
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)
    for p in family:
        if p.is_running():
            p.kill()


def _wait_ready(proc: subprocess.Popen, log: Path, timeout: float = 60.0) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if proc.poll() is not None:
            pytest.fail(f"the executable exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        try:
            httpx.get(f"{AGENT_URL}/v1/agent", timeout=1.0)
            return time.monotonic() - started
        except httpx.TransportError:
            time.sleep(0.2)
    pytest.fail(f"the executable did not answer in {timeout:.0f} s:\n{log.read_text()[-3000:]}")


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _outside(path: str, *dirs: Path) -> bool:
    return not any(_inside(Path(path), d) for d in dirs)


def _assert_repo_and_venv_unused(pid: int) -> None:
    """Nothing the executable's process tree maps, holds open, runs in or runs from lies
    in the repo or a Python installation; the environment it was started with is the token."""
    root = psutil.Process(pid)
    family = [root, *root.children(recursive=True)]
    assert len(family) >= 2, "PyInstaller's onefile bootloader runs the agent as its child"
    assert root.environ() == {"CARDAGENT_TOKEN": TOKEN}
    forbidden = (REPO, *PYTHON_DIRS)
    for proc in family:
        paths = [proc.exe(), proc.cwd()]
        paths += [m.path for m in proc.memory_maps() if m.path.startswith("/")]
        paths += [f.path for f in proc.open_files()]
        inside = [p for p in paths if not _outside(p, *forbidden)]
        assert not inside, f"pid {proc.pid} uses {inside[:5]}"
        assert "PYTHONPATH" not in proc.environ() and "VIRTUAL_ENV" not in proc.environ()


def test_executable_serves_demo_card_from_default_folder(
    tmp_path: Path, default_data_dir: Path, demo_card: dict
) -> None:
    # The executable must use its defaults, so the default port must be free: a failure
    # here, not a skip, so that CI cannot go green without the executable having run.
    assert not _port_busy(8765), "something already listens on 127.0.0.1:8765 (a running agent?)"
    assert Path(demo_card["data_dir"]).resolve() == default_data_dir.resolve(), (
        "make demo-card must write where the agent looks by default"
    )
    config = tomllib.loads(Path(demo_card["config"]).read_text(encoding="utf-8"))

    exe = _built_exe()
    size_mb = exe.stat().st_size / 1e6
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    assert _outside(str(workdir), REPO, *PYTHON_DIRS)
    copy = workdir / EXE_NAME
    shutil.copy2(exe, copy)

    hide = _can_hide_repo()
    log = tmp_path / "agent.log"
    proc = _start_agent(copy, workdir, log, hide)
    try:
        ready_s = _wait_ready(proc, log)
        if hide:
            seen_from_agent = Path(f"/proc/{proc.pid}/root") / REPO.relative_to("/")
            assert not (seen_from_agent / "Makefile").exists(), "the repo is still reachable"
            assert (REPO / "Makefile").exists()
        _assert_repo_and_venv_unused(proc.pid)

        assert httpx.get(f"{AGENT_URL}/v1/card/state", timeout=30).status_code == 401
        auth = {"Authorization": f"Bearer {TOKEN}"}
        agent = httpx.get(f"{AGENT_URL}/v1/agent", headers=auth, timeout=10)
        assert agent.status_code == 200, agent.text
        # the module named in the demo's cardagent.toml: the file in the default folder was read
        assert agent.json()["pkcs11_module"] == config["pkcs11_module"]
        state = httpx.get(f"{AGENT_URL}/v1/card/state", headers=auth, timeout=30)
        assert state.status_code == 200, state.text
        assert state.json()["state"] == PROFILES[CARD].expected_state
        # the bundled Jinja2 templates: an unknown page link gets the Swedish HTML error page
        page = httpx.get(f"{AGENT_URL}/pin/no-such-job", timeout=10)
        assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
        assert "Kortprogrammet på den här datorn" in page.text
    finally:
        _stop(proc)
    print(
        f"\nexecutable {size_mb:.1f} MB, answered after {ready_s:.1f} s, repo and Python "
        f"{'hidden by a private mount namespace' if hide else 'not hidden (not root)'}"
    )
