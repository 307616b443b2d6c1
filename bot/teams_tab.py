"""The Teams app's personal tab "Kortet": where a user in Teams reads the card.

The tab (``teams/manifest.template.json``, ``staticTabs``) hosts the intranet widget with
its card relay (``widget/src/teamsTab.js``). In the Teams chat the bot cannot see the
card, so a card request is answered with a button that opens the tab: a Teams deep link
to the app's entity, ``https://teams.microsoft.com/l/entity/<app id>/<entity id>``.
"""

from __future__ import annotations

import os
from typing import Mapping, Optional
from urllib.parse import quote

#: The tab's ``entityId`` in the manifest.
CARD_TAB_ENTITY_ID = "card"
DEEP_LINK_BASE = "https://teams.microsoft.com/l/entity"


def card_tab_link(env: Optional[Mapping[str, str]] = None) -> str:
    """The deep link that opens the tab, or "" while the Teams app id is not set."""
    app_id = ((os.environ if env is None else env).get("TEAMS_APP_ID") or "").strip()
    if not app_id:
        return ""
    return f"{DEEP_LINK_BASE}/{quote(app_id.lower(), safe='')}/{CARD_TAB_ENTITY_ID}"
