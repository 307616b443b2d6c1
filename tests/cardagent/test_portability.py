"""The agent's code stays runnable on Windows (issue 11, point 5), checked on Linux.

* no Linux/POSIX-only module or call in the agent's code outside the places that guard it;
* the token file's Windows path (no owner/mode checks, no O_NOFOLLOW, no fchmod) works and
  calls nothing POSIX-only; junctions are refused like symlinks, data-only reparse points
  (cloud placeholders) are not;
* the peer check treats Windows' pid 0 and an AccessDenied as "not ours".
Nothing here runs on Windows itself; docs/cardagent-windows.md lists what is unverified.
"""

from __future__ import annotations

import ast
import os
import stat
from pathlib import Path
from types import SimpleNamespace

import psutil
import pytest

from cardagent import peer, tokenfile
from cardagent.tokenfile import TokenFileError, check_token_file, load_or_create_token

PACKAGE = Path(tokenfile.__file__).resolve().parent

POSIX_ONLY_MODULES = {"pwd", "grp", "fcntl", "termios", "resource", "posix", "pty", "tty"}
POSIX_ONLY_CALLS = {
    "os.getuid", "os.geteuid", "os.getgid", "os.getegid", "os.fchmod", "os.fchown", "os.chown",
    "os.lchown", "os.umask", "os.fork", "os.setsid", "os.killpg", "os.getpgid", "os.sync",
    "signal.SIGKILL", "signal.SIGHUP", "signal.SIGUSR1", "signal.SIGUSR2", "signal.SIGALRM",
    "signal.SIGQUIT", "signal.alarm", "signal.pause",
}
# Where such a call is guarded (tokenfile: `_POSIX`; __main__: `os.name == "posix"`).
GUARDED = {
    "tokenfile.py": {"os.getuid", "os.fchmod"},
    "__main__.py": {"os.umask"},
}


def _posix_only_uses(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names} & POSIX_ONLY_MODULES
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module.split(".")[0] in POSIX_ONLY_MODULES:
                found.add(node.module)
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            name = f"{node.value.id}.{node.attr}"
            if name in POSIX_ONLY_CALLS:
                found.add(name)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if node.value.startswith(("/proc/", "/dev/", "/run/", "/etc/")):
                found.add(node.value)
    return found


def test_no_unguarded_posix_only_code_in_the_agent() -> None:
    offenders = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        uses = _posix_only_uses(path) - GUARDED.get(rel, set())
        if uses:
            offenders[rel] = sorted(uses)
    assert offenders == {}


def test_the_checker_sees_posix_only_code(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import os, pwd, signal\nos.kill(1, signal.SIGKILL)\nos.getuid()\nopen('/proc/self/fd')\n"
    )
    assert _posix_only_uses(sample) == {"pwd", "signal.SIGKILL", "os.getuid", "/proc/self/fd"}


def _lstat(mode: int, attrs: int = 0, tag: int = 0) -> SimpleNamespace:
    """A Windows-style lstat result (st_file_attributes and st_reparse_tag exist there only)."""
    return SimpleNamespace(st_mode=mode, st_file_attributes=attrs, st_reparse_tag=tag, st_uid=0)


IO_REPARSE_TAG_MOUNT_POINT = 0xA0000003  # a junction
IO_REPARSE_TAG_SYMLINK = 0xA000000C
IO_REPARSE_TAG_CLOUD_6 = 0x9000601A  # a OneDrive placeholder: data elsewhere, not a link


@pytest.mark.parametrize("tag", [IO_REPARSE_TAG_MOUNT_POINT, IO_REPARSE_TAG_SYMLINK])
def test_a_junction_or_windows_symlink_is_refused(tag: int, monkeypatch) -> None:
    monkeypatch.setattr(tokenfile, "_POSIX", False)
    reparse = stat.FILE_ATTRIBUTE_REPARSE_POINT
    with pytest.raises(TokenFileError, match="symbolisk länk"):
        check_token_file(Path("token"), _lstat(stat.S_IFREG | 0o600, reparse, tag))


def test_a_cloud_placeholder_is_not_a_link(monkeypatch) -> None:
    monkeypatch.setattr(tokenfile, "_POSIX", False)
    reparse = stat.FILE_ATTRIBUTE_REPARSE_POINT
    check_token_file(Path("token"), _lstat(stat.S_IFREG | 0o666, reparse, IO_REPARSE_TAG_CLOUD_6))
    with pytest.raises(TokenFileError):  # the same tag on a folder entry that is no file
        folder = _lstat(stat.S_IFDIR | 0o700, reparse, IO_REPARSE_TAG_CLOUD_6)
        check_token_file(Path("token"), folder)


def test_token_file_without_posix_calls(tmp_path: Path, monkeypatch) -> None:
    """The Windows code path: none of getuid/fchmod/O_NOFOLLOW is available or needed."""
    monkeypatch.setattr(tokenfile, "_POSIX", False)
    monkeypatch.setattr(tokenfile, "_NOFOLLOW", 0)
    monkeypatch.setattr(tokenfile, "_CLOEXEC", 0)
    for name in ("getuid", "geteuid", "fchmod", "umask"):
        monkeypatch.delattr(os, name)
    token_file = tmp_path / "data" / "token"
    first = load_or_create_token(token_file)
    assert len(first) >= 40 and token_file.read_text(encoding="utf-8").strip() == first
    assert load_or_create_token(token_file) == first  # read back, not replaced
    assert load_or_create_token(token_file, "from-env") == "from-env"


def test_windows_idle_pid_and_access_denied_are_not_ours(monkeypatch) -> None:
    client, server = ("127.0.0.1", 50123), ("127.0.0.1", 8765)
    conn = SimpleNamespace(
        laddr=SimpleNamespace(ip=client[0], port=client[1]),
        raddr=SimpleNamespace(ip=server[0], port=server[1]),
        pid=0,
    )
    monkeypatch.setattr(psutil, "net_connections", lambda kind: [conn])

    class Anyone:  # every process, pid 0 included, would report the agent's own user
        def __init__(self, pid: int | None = None) -> None:
            self.pid = pid

        def username(self) -> str:
            return "VGR\\anna"

    monkeypatch.setattr(psutil, "Process", Anyone)
    assert peer.socket_owner(client, server) is None  # pid 0: no process to ask
    conn.pid = 4242
    assert peer.socket_owner(client, server) == "VGR\\anna"
    assert peer.same_user_peer({"client": client, "server": server}) is True

    class Denied(Anyone):  # another session's process, as seen by a non-elevated agent
        def username(self) -> str:
            if self.pid is None:
                return "VGR\\anna"
            raise psutil.AccessDenied(self.pid)

    monkeypatch.setattr(psutil, "Process", Denied)
    assert peer.socket_owner(client, server) is None
    assert peer.same_user_peer({"client": client, "server": server}) is False
