"""Print the region's name, or one of its links, from the site settings (site.yml).

``make run``, ``make cardagent`` and ``make demo-card`` use it to give the card agent its
``region_name`` (shown on the agent's own pages). Prints nothing when the file or the key is
missing: the pages then show "Kortprogrammet på den här datorn" without a region.

``--puk-cost`` prints ``puk_cost_sek`` (the card program's CARDAGENT_PUK_COST_SEK).
``--link NAME`` prints ``links.NAME`` instead (e.g. ``order_codes_manual``, the manual for
ordering codes that the agent's order page links to: ``CARDAGENT_PUK_ORDER_MANUAL_URL``).
An example value (tagged ``!example`` in site.yml, or a host under example.org/.com/.net or
.example, RFC 2606) prints nothing: the agent's pages never show a placeholder link as if it
were the region's.

Usage: ``python -m devtools.site_region [--link NAME] [path]`` (default: $SITE_CONFIG or
site.yml).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

REPO_DIR = Path(__file__).resolve().parents[1]
EXAMPLE_DOMAINS = ("example.org", "example.com", "example.net", "example")


class Example(str):
    """A value site.yml tags ``!example`` (a placeholder the region replaces)."""


def _site(path: Path | None) -> dict[str, Any]:
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def example(loader: yaml.SafeLoader, node: yaml.Node) -> Example:
        return Example(loader.construct_scalar(node))  # type: ignore[arg-type]

    Loader.add_constructor("!example", example)
    path = path or Path(os.environ.get("SITE_CONFIG") or REPO_DIR / "site.yml")
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=Loader)  # noqa: S506
    except (OSError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


def region_name(path: Path | None = None) -> str:
    value = _site(path).get("region_name")
    return str(value).strip() if value else ""


def is_example_url(url: str) -> bool:
    """A placeholder: its host is (under) one of the RFC 2606 example domains."""
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    return any(host == d or host.endswith("." + d) for d in EXAMPLE_DOMAINS)


def link(name: str, path: Path | None = None) -> str:
    """``links.<name>`` from the site settings; "" when missing or an example value."""
    links = _site(path).get("links")
    value = links.get(name) if isinstance(links, dict) else None
    if not value or isinstance(value, Example):
        return ""
    url = str(value).strip()
    return "" if is_example_url(url) else url


def puk_cost(path: Path | None = None) -> str:
    """``puk_cost_sek`` (whole kronor) from the site settings; "" when missing or not a number."""
    value = _site(path).get("puk_cost_sek")
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else ""


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    name = None
    if args[:1] == ["--puk-cost"]:
        path = Path(args[1]) if len(args) > 1 else None
        print(puk_cost(path))
        return 0
    if args[:1] == ["--link"]:
        if len(args) < 2:
            print("usage: python -m devtools.site_region [--link NAME] [path]", file=sys.stderr)
            return 2
        name, args = args[1], args[2:]
    path = Path(args[0]) if args else None
    print(link(name, path) if name else region_name(path))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
