"""The Teams channel's settings, from the environment only (never credentials.yml).

``TEAMS_APP_ID``, ``TEAMS_APP_PASSWORD``, ``TEAMS_TENANT_ID``: without all
three the channel is off. The Microsoft endpoints can be pointed elsewhere
(tests, sovereign clouds): ``TEAMS_LOGIN_URL``, ``TEAMS_OPENID_URL``,
``TEAMS_JWT_ISSUER``, ``TEAMS_TOKEN_SCOPE``; ``TEAMS_HTTP_TIMEOUT`` (seconds);
``TEAMS_CHANNEL_IDS`` (default ``msteams``). See docs/teams.md.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

logger = logging.getLogger(__name__)

LOGIN_URL = "https://login.microsoftonline.com"
OPENID_URL = "https://login.botframework.com/v1/.well-known/openidconfiguration"
JWT_ISSUER = "https://api.botframework.com"
TOKEN_SCOPE = "https://api.botframework.com/.default"
CHANNEL_IDS = ("msteams",)


@dataclass(frozen=True)
class TeamsSettings:
    app_id: str
    app_password: str
    tenant_id: str
    login_url: str = LOGIN_URL
    openid_url: str = OPENID_URL
    issuer: str = JWT_ISSUER
    scope: str = TOKEN_SCOPE
    timeout: float = 5.0
    channel_ids: Tuple[str, ...] = CHANNEL_IDS

    @property
    def token_url(self) -> str:
        return f"{self.login_url.rstrip('/')}/{self.tenant_id}/oauth2/v2.0/token"

    @classmethod
    def from_env(cls, env: Optional[Dict[str, str]] = None) -> Optional[TeamsSettings]:
        """The settings, or None when the app id, password or tenant is missing."""
        env = os.environ if env is None else env
        app_id, password, tenant = (
            (env.get(k) or "").strip()
            for k in ("TEAMS_APP_ID", "TEAMS_APP_PASSWORD", "TEAMS_TENANT_ID")
        )
        if not (app_id and password and tenant):
            if app_id or password or tenant:
                logger.warning(
                    "Teams channel off: TEAMS_APP_ID, TEAMS_APP_PASSWORD and TEAMS_TENANT_ID "
                    "must all be set."
                )
            return None
        return cls(
            app_id=app_id,
            app_password=password,
            tenant_id=tenant,
            login_url=env.get("TEAMS_LOGIN_URL") or LOGIN_URL,
            openid_url=env.get("TEAMS_OPENID_URL") or OPENID_URL,
            issuer=env.get("TEAMS_JWT_ISSUER") or JWT_ISSUER,
            scope=env.get("TEAMS_TOKEN_SCOPE") or TOKEN_SCOPE,
            timeout=float(env.get("TEAMS_HTTP_TIMEOUT") or 5.0),
            channel_ids=tuple(
                c.strip() for c in (env.get("TEAMS_CHANNEL_IDS") or "").split(",") if c.strip()
            ) or CHANNEL_IDS,
        )
