"""Start Rasa (``rasa run``) without any secret on the command line.

``python -m bot.serve [rasa run options]`` is ``rasa run [options]`` plus:

* Rasa's HTTP API token comes from ``RASA_API_TOKEN`` or the 0600 file named by
  ``RASA_API_TOKEN_FILE`` and is handed to Rasa's argument parser inside this
  process, so ``ps`` / ``/proc/<pid>/cmdline`` never show it. With a token the
  HTTP API is on (``--enable-api``); without one it stays off, and
  ``--enable-api`` alone (an API anyone may call) or ``--auth-token`` on the
  command line are refused.
* The action server's shared secret (``ACTION_SERVER_TOKEN`` or
  ``ACTION_SERVER_TOKEN_FILE``) is put into this process's environment, where
  ``endpoints.yml`` (``action_endpoint.token: ${ACTION_SERVER_TOKEN}``) reads it;
  the socket.io session key likewise (``BOT_SESSION_SECRET[_FILE]``).
* CORS (``--cors``) is the widget's origins, ``BOT_ALLOWED_ORIGINS`` (the one
  setting the channels check too), unless ``--cors`` is given.
* Request bodies are capped at :data:`REQUEST_MAX_BYTES` (Sanic's default is
  100 MB, which one client could use to stall everyone): Sanic reads
  ``SANIC_REQUEST_MAX_SIZE`` from the environment when Rasa creates its app and
  answers 413 to a larger body before reading it.
"""

from __future__ import annotations

import os
import sys
from typing import List, MutableMapping, Optional

from bot.doors import allowed_origins, load_secret

# Secrets Rasa's own code or the channels read from the environment.
ENV_SECRETS = ("ACTION_SERVER_TOKEN", "BOT_SESSION_SECRET")

#: The largest request body Rasa reads: 1 MiB (engine.io's default packet
#: limit is 1 MB; a message over 2 000 characters is refused anyway) plus
#: slack for JSON and form overhead.
REQUEST_MAX_BYTES = 2**20 + 64 * 1024


def limit_request_size(env: Optional[MutableMapping[str, str]] = None) -> None:
    """Cap Sanic's request body size (``SANIC_REQUEST_MAX_SIZE``); a smaller
    value already set is kept."""
    env = os.environ if env is None else env
    current = env.get("SANIC_REQUEST_MAX_SIZE", "")
    if not (current.isascii() and current.isdigit() and 0 < int(current) <= REQUEST_MAX_BYTES):
        env["SANIC_REQUEST_MAX_SIZE"] = str(REQUEST_MAX_BYTES)


def rasa_argv(args: List[str]) -> List[str]:
    """The argument list for ``rasa run`` (in-process only, never exec'd)."""
    if any(a == "--auth-token" or a.startswith("--auth-token=") for a in args):
        raise SystemExit("bot.serve: pass the API token as RASA_API_TOKEN or RASA_API_TOKEN_FILE, "
                         "not on the command line")
    token = load_secret("RASA_API_TOKEN")
    out = ["rasa", "run", *args]
    if token:
        if "--enable-api" not in out:
            out.append("--enable-api")
        out.append(f"--auth-token={token}")
    elif "--enable-api" in out:
        raise SystemExit("bot.serve: --enable-api needs RASA_API_TOKEN (or RASA_API_TOKEN_FILE)")
    if "--cors" not in out:
        out += ["--cors", *allowed_origins()]
    return out


def main(argv: Optional[List[str]] = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    for name in ENV_SECRETS:
        value = load_secret(name)
        if value:
            os.environ[name] = value
    if not os.environ.get("ACTION_SERVER_TOKEN"):
        raise SystemExit("bot.serve: ACTION_SERVER_TOKEN (or ACTION_SERVER_TOKEN_FILE) is not set; "
                         "Rasa sends it to the action server (endpoints.yml)")
    limit_request_size()
    sys.argv = rasa_argv(args)

    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
