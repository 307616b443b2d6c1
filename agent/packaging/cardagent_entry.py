"""PyInstaller's entry script for the single-file card agent (see cardagent.spec).

The executable behaves like ``python -m cardagent``: same options, same settings
(``CARDAGENT_*`` environment, ``<data folder>/cardagent.toml``).
"""

import sys

from cardagent.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
