"""Who may knock on the bot's own doors (Rasa's REST and socket.io channels and
the action server): the checks and secrets they share.

Pure Python (no Rasa import), so the action server uses the same code.

* :func:`browser_refusal` - a request is refused when it comes from a web page
  that is not the widget's (``Origin`` not in the allowlist, ``Sec-Fetch-Site``
  cross-site without an allowlisted ``Origin``) or names a host that is not
  ours (``Host`` not in the allowlist: DNS rebinding).
* :func:`load_secret` / :func:`ensure_secret_file` - shared secrets (action
  server token, socket.io session key, Rasa's API token) come from an
  environment variable or a file that only the user can read, never from the
  command line.

Settings (environment):

``BOT_ALLOWED_ORIGINS``
    The widget's origin(s), comma or space separated. Default: the demo page,
    ``http://127.0.0.1:$WIDGET_PORT`` and ``http://localhost:$WIDGET_PORT``
    (``WIDGET_PORT`` default 8080). The same setting gives Rasa's CORS.
``BOT_ALLOWED_HOSTS``
    Host names (without port) the bot answers to besides the loopback names
    ``127.0.0.1``, ``localhost`` and ``::1``, e.g. ``chat.region.se`` on a
    central server.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import os
import secrets
import stat
from pathlib import Path
from typing import Iterable, List, Mapping, Optional, Set
from urllib.parse import urlsplit

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

logger = logging.getLogger(__name__)


def _split(value: str) -> List[str]:
    return [part for part in value.replace(",", " ").split() if part]


def allowed_origins(env: Optional[Mapping[str, str]] = None) -> List[str]:
    """The widget's origins (``BOT_ALLOWED_ORIGINS``, default the demo page)."""
    env = os.environ if env is None else env
    configured = _split(env.get("BOT_ALLOWED_ORIGINS", ""))
    if configured:
        return [origin.rstrip("/") for origin in configured]
    port = env.get("WIDGET_PORT") or "8080"
    return [f"http://127.0.0.1:{port}", f"http://localhost:{port}"]


def allowed_hosts(env: Optional[Mapping[str, str]] = None) -> Set[str]:
    """Host names (lower case, no port) the bot answers to."""
    env = os.environ if env is None else env
    return set(LOOPBACK_HOSTS) | {h.lower() for h in _split(env.get("BOT_ALLOWED_HOSTS", ""))}


def host_name(host_header: str) -> str:
    """``Host`` header without its port (``[::1]:5005`` -> ``::1``), lower case."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    if host.count(":") == 1:
        return host.split(":", 1)[0]
    return host


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback IP address (``127.0.0.0/8``, ``::1``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def session_secret(env: Optional[Mapping[str, str]] = None) -> bytes:
    """The socket.io session key (``BOT_SESSION_SECRET[_FILE]``), which also derives the
    chat references; without one, a key that lasts only as long as this process."""
    secret = load_secret("BOT_SESSION_SECRET", env)
    if not secret:
        logger.warning("BOT_SESSION_SECRET is not set: socket.io sessions and chat "
                       "references last only until this process stops")
        secret = secrets.token_hex(32)
    return secret.encode()


class DoorPolicy:
    """The allowlists one server applies to every request."""

    def __init__(self, origins: Iterable[str], hosts: Iterable[str]) -> None:
        self.origins = {o.rstrip("/") for o in origins}
        self.hosts = {h.lower() for h in hosts}

    @classmethod
    def from_env(cls, env: Optional[Mapping[str, str]] = None) -> DoorPolicy:
        return cls(allowed_origins(env), allowed_hosts(env))

    def refusal(
        self,
        *,
        host: Optional[str],
        origin: Optional[str],
        fetch_site: Optional[str],
        allow_origin: bool = True,
    ) -> Optional[str]:
        """Why a request is refused (a short code), or None when it may pass.

        ``allow_origin=False`` (the action server: only Rasa calls it) refuses
        any ``Origin`` and any ``Sec-Fetch-Site`` other than ``none``/
        ``same-origin``: no browser page has business there."""
        if not host or host_name(host) not in self.hosts:
            return "host_not_allowed"
        if origin is not None:
            if not allow_origin:
                return "origin_not_allowed"
            if origin.rstrip("/") not in self.origins or not _is_http_origin(origin):
                return "origin_not_allowed"
        if fetch_site is not None:
            site = fetch_site.strip().lower()
            if site in ("none", "same-origin"):
                return None
            if site in ("same-site", "cross-site") and origin is not None and allow_origin:
                return None  # an allowlisted Origin (checked above)
            return "cross_site_request"
        return None


def _is_http_origin(origin: str) -> bool:
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and not parts.path.strip("/")


# --- secrets: environment or a user-only file, never the command line ---


def load_secret(name: str, env: Optional[Mapping[str, str]] = None) -> Optional[str]:
    """The secret ``name`` from the environment variable ``name`` or from the
    file named by ``{name}_FILE`` (stripped); None when neither is set."""
    env = os.environ if env is None else env
    value = env.get(name, "").strip()
    if value:
        return value
    path = env.get(f"{name}_FILE", "").strip()
    if path:
        text = read_secret_file(Path(path))
        if text:
            return text
        raise RuntimeError(f"{name}_FILE ({path}) is empty")
    return None


def read_secret_file(path: Path) -> str:
    """Read a secret file; refuse symlinks, other owners and group/other access."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise RuntimeError(f"{path} is not a regular file")
        if info.st_uid != os.geteuid():
            raise RuntimeError(f"{path} is owned by another user")
        if info.st_mode & 0o077:
            raise RuntimeError(f"{path} is readable by others (chmod 600 it)")
        with os.fdopen(fd, "r", encoding="utf-8") as f:
            fd = -1
            return f.read().strip()
    finally:
        if fd >= 0:
            os.close(fd)


def ensure_secret_file(path: Path, nbytes: int = 32) -> Path:
    """Create ``path`` with a new random secret (0600, in a 0700 directory)
    unless it exists; an existing file is checked like :func:`read_secret_file`."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except OSError as e:
        if e.errno != errno.EEXIST:
            raise
        read_secret_file(path)
        return path
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(secrets.token_hex(nbytes) + "\n")
    return path


def main(argv: Optional[List[str]] = None) -> None:
    """``python -m bot.doors FILE...``: create the secret files that are missing
    (make run does this for the action server token and the session key)."""
    import sys

    for name in (sys.argv[1:] if argv is None else argv):
        ensure_secret_file(Path(name))


if __name__ == "__main__":
    main()
