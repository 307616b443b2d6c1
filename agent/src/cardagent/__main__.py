"""``python -m cardagent``: run the agent with uvicorn on 127.0.0.1:8765 (by default)."""

from __future__ import annotations

import argparse
import logging.config
import os
import sys
from typing import Any

from cardagent.settings import ConfigError, Settings, load_settings


def logging_config(level: str) -> dict[str, Any]:
    """uvicorn-compatible logging config: the personnummer mask and the link-token redaction
    on every handler; the access log shows the path only, never the query string."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "mask": {"()": "cardagent.identifiers.MaskingLogFilter"},
            "secrets": {"()": "cardagent.logsafety.SecretQueryFilter"},
            "path_only": {"()": "cardagent.logsafety.PathOnlyAccessFilter"},
        },
        "formatters": {
            "default": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        },
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "filters": ["secrets", "mask"],
                "stream": "ext://sys.stderr",
            },
        },
        "loggers": {
            "cardagent": {"handlers": ["default"], "level": level.upper(), "propagate": False},
            "uvicorn": {"handlers": ["default"], "level": level.upper(), "propagate": False},
            "uvicorn.error": {"level": level.upper()},
            "uvicorn.access": {
                "handlers": ["default"],
                "level": level.upper(),
                "propagate": False,
                "filters": ["path_only"],
            },
        },
    }


def serve(settings: Settings, **app_options: Any) -> None:
    """Run the agent on uvicorn with the safe logging config (masking, path-only access log).
    ``app_options`` go to ``create_app`` (tests inject their hooks there)."""
    import uvicorn

    from cardagent.api import create_app

    log_cfg = logging_config(settings.log_level)
    logging.config.dictConfig(log_cfg)
    app = create_app(settings, **app_options)
    logging.getLogger("cardagent").info(
        "card agent on http://%s:%s, PKCS#11 module %s, settings file %s, token in %s",
        settings.host,
        settings.port,
        settings.pkcs11_module,
        settings.config_file or "(none)",
        "CARDAGENT_TOKEN" if settings.token else settings.token_file,
    )
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=log_cfg,
        proxy_headers=False,
        server_header=False,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cardagent", description="SITHS card agent")
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--print-token", action="store_true", help="print the bearer token and exit")
    what.add_argument(
        "--print-token-file",
        action="store_true",
        help="print the token file's path (creating the token if missing) and exit",
    )
    args = parser.parse_args(argv)
    if os.name == "posix":
        # Everything the agent creates (database and its WAL/SHM files, token file, logs it
        # opens) is readable by this user only: files 0600, folders 0700.
        os.umask(0o077)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"cardagent: {exc}", file=sys.stderr)
        return 2

    from cardagent.tokenfile import TokenFileError, load_or_create_token

    try:
        if args.print_token:
            print(load_or_create_token(settings.token_file, settings.token))
            return 0
        if args.print_token_file:
            load_or_create_token(settings.token_file)
            if settings.token:
                print(
                    "cardagent: CARDAGENT_TOKEN is set, so the agent uses it, not this file",
                    file=sys.stderr,
                )
            print(settings.token_file)
            return 0
        serve(settings)
    except TokenFileError as exc:
        print(f"cardagent: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
