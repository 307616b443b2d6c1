"""Build the Teams app package for the Teams admin: ``make teams-package``.

Writes ``dist/siths-helpdesk-teams.zip`` with ``manifest.json`` (from
``teams/manifest.template.json``) and the two icons, as Teams wants them:
files at the top level of the zip, colour icon 192x192, outline icon 32x32
(white on transparent). Needs ``TEAMS_APP_ID`` (the bot's Microsoft app id, a
GUID) and ``TEAMS_TAB_URL`` (where the region hosts ``widget/teams-tab.html``, https:
the app's tab "Kortet", docs/teams.md); ``TEAMS_APP_VERSION`` defaults to 1.0.0.
The developer name and web page come from site.yml (region name, Servicecenter page).
"""

from __future__ import annotations

import json
import os
import re
import sys
import zipfile
from pathlib import Path
from string import Template
from urllib.parse import urlsplit

from PIL import Image

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
ICONS = {"color.png": (192, 192), "outline.png": (32, 32)}


class PackageError(ValueError):
    pass


def manifest(app_id: str, version: str, tab_url: str) -> dict:
    sys.path.insert(0, str(REPO))
    from bot.site_config import load_site_config
    from bot.teams_tab import CARD_TAB_ENTITY_ID

    if not GUID.match(app_id or ""):
        raise PackageError("TEAMS_APP_ID must be the bot's Microsoft app id (a GUID)")
    if not re.fullmatch(r"\d+\.\d+\.\d+", version):
        raise PackageError("TEAMS_APP_VERSION must look like 1.0.0")
    tab = urlsplit(tab_url or "")
    if (tab.scheme != "https" or not tab.hostname or tab.username or tab.password
            or tab.port or re.search(r"[\s\\*@]", tab_url or "")):
        raise PackageError("TEAMS_TAB_URL must be the https address of the card tab page "
                           "(no user name, port, spaces, backslash or wildcard)")
    site = load_site_config()
    values = {
        "app_id": app_id.lower(),
        "version": version,
        "tab_url": tab_url,
        "tab_host": tab.hostname,
        "card_tab_entity_id": CARD_TAB_ENTITY_ID,
        "region_name": site.region_name,
        "website_url": site.servicecenter.url,
    }
    # JSON-escaped, so a quote in site.yml cannot break the manifest ("$$" is a "$").
    template = Template((HERE / "manifest.template.json").read_text(encoding="utf-8"))
    text = template.substitute({k: json.dumps(v)[1:-1] for k, v in values.items()})
    data = json.loads(text)
    if len(data["name"]["short"]) > 30 or len(data["description"]["short"]) > 80:
        raise PackageError("name.short max 30, description.short max 80 characters")
    if not data["developer"]["websiteUrl"].startswith("https://"):
        raise PackageError("the developer web page (site.yml servicecenter.url) must be https")
    return data


def build(app_id: str, tab_url: str, version: str = "1.0.0",
          out_dir: Path = REPO / "dist") -> Path:
    data = manifest(app_id, version, tab_url)
    for name, size in ICONS.items():
        with Image.open(HERE / name) as icon:
            if icon.size != size:
                raise PackageError(f"{name} must be {size[0]}x{size[1]}")
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / "siths-helpdesk-teams.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", json.dumps(data, ensure_ascii=False, indent=2))
        for name in ICONS:
            zf.write(HERE / name, name)
    return target


def main() -> int:
    try:
        target = build(
            os.environ.get("TEAMS_APP_ID", "").strip(),
            os.environ.get("TEAMS_TAB_URL", "").strip(),
            os.environ.get("TEAMS_APP_VERSION", "1.0.0").strip(),
        )
    except PackageError as exc:
        print(f"teams-package: {exc}", file=sys.stderr)
        return 2
    print(f"Teams app package: {target} (upload it in the Teams admin center)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
