"""``python -m bot.triage_web``: start the triage page (settings from the environment)."""

from __future__ import annotations

import logging

from bot.triage_web.app import create_app
from bot.triage_web.settings import TriageWebSettings


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    # httpx logs each request's URL at INFO, and Rasa's API token travels in the URL.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    settings = TriageWebSettings()
    app = create_app(settings)
    print(f"Triagesidan: http://{settings.host}:{settings.port}/", flush=True)
    app.run(host=settings.host, port=settings.port, access_log=False, motd=False)


if __name__ == "__main__":
    main()
