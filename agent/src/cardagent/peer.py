"""Who is on the other end of a loopback connection.

The agent's own pages (``/pin/``, ``/orders/``) and the token-less browser relay act for
the person without a bearer token, so they are served only to programs that run as the
same user as the agent. Browser headers (``Origin``, ``Sec-Fetch-Site``) tell a browser's
pages apart, but another local user's program can send any header; the owner of the
connecting socket it cannot fake.

The owner is found with psutil (a well-kept, cross-platform library: /proc on Linux,
GetExtendedTcpTable on Windows): the connection whose local end is the request's client
address and whose remote end is the agent, its process, and that process's user. Anything
that cannot be established (no such connection, a process the agent may not inspect,
which on Linux and Windows is exactly another user's process) counts as not ours.

Per platform (psutil's documentation of net_connections; the Windows AccessDenied from its
issue tracker, giampaolo/psutil#304 and #846; only Linux is run by the tests):
* Linux: another user's sockets are listed without a pid (``None``) unless the agent runs as
  root, so they are not ours; as root the name is read and compared.
* Windows: the TCP table lists every connection with its pid without administrator rights;
  ``Process.username()`` gives ``DOMAIN\\user`` for the agent's own user and raises AccessDenied
  for another user's process (unless the agent runs elevated, when the other name is read and
  differs). Either way another session's program on a shared machine (terminal server) is
  refused. Not run on Windows.
* macOS: listing connections needs root (AccessDenied otherwise): the pages are refused and a
  warning is logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, MutableMapping
from typing import Any

import psutil

log = logging.getLogger("cardagent.peer")

Scope = MutableMapping[str, Any]
PeerCheck = Callable[[Scope], bool]


def _endpoint(value: Any) -> tuple[str, int] | None:
    if not value or len(value) < 2:
        return None
    host, port = value[0], value[1]
    if not isinstance(host, str) or not isinstance(port, int):
        return None
    return _plain(host), port


def _plain(ip: str) -> str:
    """``::ffff:127.0.0.1`` -> ``127.0.0.1`` (IPv4 on a dual-stack socket)."""
    return ip[7:] if ip.lower().startswith("::ffff:") else ip


def socket_owner(client: tuple[str, int], server: tuple[str, int]) -> str | None:
    """User name of the process that holds the client end of the TCP connection
    ``client`` -> ``server`` on this machine, or None if it cannot be established."""
    try:
        for conn in psutil.net_connections(kind="tcp"):
            if not conn.laddr or not conn.raddr:
                continue
            if (_plain(conn.laddr.ip), conn.laddr.port) != client:
                continue
            if (_plain(conn.raddr.ip), conn.raddr.port) != server:
                continue
            if not conn.pid:  # None: not ours to see; 0: Windows' idle/closing entries
                return None
            return psutil.Process(conn.pid).username()
    except (psutil.Error, OSError) as exc:
        log.warning("cannot tell who is connecting: %s", type(exc).__name__)
    return None


def same_user_peer(scope: Scope) -> bool:
    """True when the request's TCP peer is a process of the user the agent runs as."""
    client = _endpoint(scope.get("client"))
    server = _endpoint(scope.get("server"))
    if client is None or server is None:
        return False
    owner = socket_owner(client, server)
    if owner is None:
        return False
    try:
        return owner == psutil.Process().username()
    except (psutil.Error, OSError):
        return False
