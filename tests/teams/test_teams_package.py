"""`make teams-package`: the zip the Teams admin uploads."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
import zipfile

from PIL import Image

from bot.site_config import load_site_config
from tests.support.local_stack import REPO

TAB_URL = "https://intranat.region.example/siths/teams-tab"


def test_package_has_the_manifest_and_icons(tmp_path):
    app_id = str(uuid.uuid4())
    env = {"PATH": "/usr/bin:/bin", "TEAMS_APP_ID": app_id, "TEAMS_APP_VERSION": "1.2.3"}
    out = subprocess.run([sys.executable, "-c",
                          "import sys; sys.path.insert(0, 'teams'); import build_package as b; "
                          f"print(b.build('{app_id}', '{TAB_URL}', '1.2.3', "
                          f"__import__('pathlib').Path('{tmp_path}')))"],
                         cwd=REPO, env=env, capture_output=True, text=True, check=True)
    target = tmp_path / "siths-helpdesk-teams.zip"
    assert str(target) in out.stdout
    with zipfile.ZipFile(target) as zf:
        assert sorted(zf.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(zf.read("manifest.json"))
        zf.extract("color.png", tmp_path)
        zf.extract("outline.png", tmp_path)
    assert manifest["id"] == app_id and manifest["bots"][0]["botId"] == app_id
    assert manifest["version"] == "1.2.3"
    assert manifest["icons"] == {"color": "color.png", "outline": "outline.png"}
    assert manifest["developer"]["websiteUrl"] == load_site_config().servicecenter.url
    assert "${" not in json.dumps(manifest)
    # The card tab, where Teams users read the card (bot/teams_tab.py links to it).
    card_tab = next(t for t in manifest["staticTabs"] if t.get("contentUrl"))
    assert card_tab == {"entityId": "card", "name": "Kortet", "contentUrl": TAB_URL,
                        "websiteUrl": TAB_URL, "scopes": ["personal"]}
    assert manifest["validDomains"] == ["intranat.region.example"]
    assert Image.open(tmp_path / "color.png").size == (192, 192)
    outline = Image.open(tmp_path / "outline.png").convert("RGBA")
    assert outline.size == (32, 32)
    colours = {px[:3] for px in outline.getdata() if px[3] > 0}
    assert colours == {(255, 255, 255)}  # white on transparent


def test_make_target_refuses_a_missing_app_id():
    result = subprocess.run([sys.executable, "teams/build_package.py"], cwd=REPO,
                            env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True)
    assert result.returncode == 2
    assert "TEAMS_APP_ID" in result.stderr


def test_make_target_refuses_a_tab_that_is_not_https():
    for tab in ("", "http://intranat.region.example/teams-tab", "javascript:alert(1)",
                "https://user:secret@intranat.region.example/teams-tab",
                "https://attacker.example@intranat.region.example/teams-tab",
                "https://intranat.region.example\\@evil.example/teams-tab",
                "https://*.evil.example/x", "https://intranat.region.example /x",
                "https://intranat.region.example:8443/teams-tab"):
        env = {"PATH": "/usr/bin:/bin", "TEAMS_APP_ID": str(uuid.uuid4()), "TEAMS_TAB_URL": tab}
        result = subprocess.run([sys.executable, "teams/build_package.py"], cwd=REPO,
                                env=env, capture_output=True, text=True)
        assert result.returncode == 2, tab
        assert "TEAMS_TAB_URL" in result.stderr
