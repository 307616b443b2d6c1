"""Print the region's name from the site settings (site.yml, ``region_name``).

``make run``, ``make cardagent`` and ``make demo-card`` use it to give the card agent its
``region_name`` (shown on the agent's own pages). Prints nothing when the file or the key is
missing: the pages then show "Kortprogrammet på den här datorn" without a region.

Usage: ``python -m devtools.site_region [path]`` (default: $SITE_CONFIG or site.yml).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parents[1]


def region_name(path: Path | None = None) -> str:
    import yaml

    path = path or Path(os.environ.get("SITE_CONFIG") or REPO_DIR / "site.yml")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return ""
    value = data.get("region_name") if isinstance(data, dict) else None
    return str(value).strip() if value else ""


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    print(region_name(Path(args[0]) if args else None))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
