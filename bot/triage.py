"""`make triage`: the bot as a triage script for service-desk agents.

The agent types what the caller says; the tool shows the likeliest intents
with their confidence, the answer to read out, the follow-up questions to ask
and whether to escalate. Everything comes from the bot's own data: the NLU
model (through a running bot's ``/model/parse``, or loaded in-process), the
rules (``data/stories/rules.yml``: which response answers which intent), the
responses (``domain.yml``, filled from ``site.yml``), the fallback thresholds
(``config.yml``) and the card states (``actions/card_states.py``: the responses the
chat's card actions give).
See docs/triage.md. Codes and personnummer typed here are masked first.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

import httpx
import yaml

from bot.doors import load_secret
from bot.masking import mask_sensitive
from bot.site_examples import site_values, with_example_note

REPO = Path(__file__).resolve().parent.parent
MODEL = REPO / "models" / "current.tar.gz"
TOP_N = 3

# Intents after which the agent should hand the call on, and why (Swedish: shown to agents).
ESCALATE_INTENTS = {
    "out_of_scope": "Frågan gäller inte SITHS-kortet. Hänvisa till rätt stöd eller Servicecenter.",
    "human_handoff": "Personen vill ha personlig hjälp. Eskalera till Servicecenter.",
    "lost_card": "Kortet har kommit bort eller blivit stulet. FAQ-sidan tar inte upp det, så "
    "hänvisa till Servicecenter.",
    "nlu_fallback": "Oklart vad frågan gäller. Ställ en följdfråga. Eskalera om det "
    "fortfarande är oklart.",
}
SERVICECENTER_PLACEHOLDER = "{servicecenter_contact}"


@lru_cache(maxsize=1)
def domain_responses() -> Dict[str, List[Dict[str, Any]]]:
    raw = yaml.safe_load((REPO / "domain.yml").read_text(encoding="utf-8"))
    return raw.get("responses") or {}


@lru_cache(maxsize=1)
def fallback_thresholds() -> Tuple[float, float]:
    """(threshold, ambiguity_threshold) of the FallbackClassifier in config.yml."""
    raw = yaml.safe_load((REPO / "config.yml").read_text(encoding="utf-8"))
    for component in raw.get("pipeline") or []:
        if component.get("name") == "FallbackClassifier":
            return (float(component.get("threshold", 0.3)),
                    float(component.get("ambiguity_threshold", 0.1)))
    return 0.3, 0.1


@lru_cache(maxsize=1)
def rule_actions() -> Dict[str, str]:
    """intent -> the action the rules run right after it."""
    mapping: Dict[str, str] = {}
    for path in sorted((REPO / "data").rglob("*.yml")):
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for rule in raw.get("rules") or []:
            steps = rule.get("steps") or []
            for step, nxt in zip(steps, steps[1:], strict=False):
                if "intent" in step and "action" in nxt and not rule.get("condition"):
                    mapping.setdefault(step["intent"], nxt["action"])
    return mapping


def response_for(intent: str) -> Optional[str]:
    """The response that answers ``intent`` (a custom action's manual fallback if any)."""
    responses = domain_responses()
    action = rule_actions().get(intent)
    if action and action in responses:
        return action
    for name in (f"utter_{intent}", f"utter_{intent}_manual"):
        if name in responses:
            return name
    return None


def fill(text: str, extra: Optional[Mapping[str, Any]] = None) -> str:
    """``text`` with site.yml's values (and ``extra``, e.g. what an action passes) filled in."""
    values = {**site_values(domain_responses()), **(extra or {})}
    return re.sub(r"\{(\w+)\}", lambda m: str(values.get(m.group(1), m.group(0))), text)


@dataclass
class Answer:
    response: str
    text: str  # filled from site.yml, Markdown links as in the bot
    follow_ups: List[str]  # button titles: the follow-up questions to ask
    refers_to_servicecenter: bool


def answer(response: str, values: Optional[Mapping[str, Any]] = None) -> Answer:
    """``response`` as the bot says it; ``values``: what an action passes with it.
    Like the chat (bot.nlg), a text that shows an example value of site.yml gets the
    example note."""
    responses = domain_responses()
    variant = responses[response][0]
    raw = variant.get("text") or ""
    return Answer(
        response=response,
        text=with_example_note(fill(raw, values), responses),
        follow_ups=[fill(b["title"], values) for b in variant.get("buttons") or []],
        refers_to_servicecenter=SERVICECENTER_PLACEHOLDER in raw,
    )


@dataclass
class Triage:
    said: str  # masked
    ranking: List[Tuple[str, str, float]]  # (intent, title, confidence)
    answer: Optional[Answer]
    escalate: List[str] = field(default_factory=list)


OTHER_TITLES = {
    "out_of_scope": "Gäller inte SITHS-kortet",
    "lost_card": "Borttappat eller stulet kort",
    "greet": "Hälsning",
    "goodbye": "Avslutning",
    "thanks": "Tack",
    "affirm": "Ja",
    "deny": "Nej",
    "bot_challenge": "Frågar om det är en bot",
}


def intent_title(intent: str) -> str:
    from actions.clarify import suggestion_titles

    return suggestion_titles(domain_responses()).get(intent) or OTHER_TITLES.get(intent, intent)


def plain_links(text: str) -> str:
    """Markdown links as 'text (url)', for reading out and for the terminal."""
    return re.sub(r"\[([^\]]+)\]\(([^)]+)\)", r"\1 (\2)", text)


def triage(said: str, parse: Dict[str, Any]) -> Triage:
    """What to tell the agent for one parse result of ``/model/parse``."""
    threshold, ambiguity = fallback_thresholds()
    ranking = [
        (r["name"], intent_title(r["name"]), float(r.get("confidence") or 0.0))
        for r in parse.get("intent_ranking") or []
        if r.get("name") != "nlu_fallback"
    ][:TOP_N]
    top = ranking[0] if ranking else ("nlu_fallback", "", 0.0)
    escalate: List[str] = []
    unsure = top[2] < threshold or (len(ranking) > 1 and top[2] - ranking[1][2] < ambiguity)
    if unsure:
        escalate.append(
            f"Osäker tolkning ({top[2]:.0%}). Fråga vilket av alternativen som gäller, "
            "eller eskalera om inget stämmer."
        )
    if top[0] in ESCALATE_INTENTS:
        escalate.append(ESCALATE_INTENTS[top[0]])
    response = response_for(top[0]) if not unsure or top[0] in ESCALATE_INTENTS else None
    found = answer(response) if response else None
    if found and found.refers_to_servicecenter and top[0] not in ESCALATE_INTENTS:
        escalate.append("Svaret hänvisar till Servicecenter: eskalera om den som ringer "
                        "behöver det (t.ex. nytt kort).")
    return Triage(mask_sensitive(said).text, ranking, found, escalate)


# --- parsing: a running bot's HTTP API, or the model in-process ---

class HttpParser:
    def __init__(self, url: str, token: Optional[str]) -> None:
        self.url, self.token = url.rstrip("/"), token
        self.client = httpx.Client(timeout=30)

    def __call__(self, text: str) -> Dict[str, Any]:
        params = {"token": self.token} if self.token else {}
        reply = self.client.post(f"{self.url}/model/parse", params=params, json={"text": text})
        reply.raise_for_status()
        return reply.json()


class LocalParser:
    def __init__(self, model: Path) -> None:
        from rasa.core.agent import Agent

        self.agent = Agent.load(str(model))

    def __call__(self, text: str) -> Dict[str, Any]:
        return asyncio.run(self.agent.parse_message(text))


def render(result: Triage, console: Any) -> None:
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    table = Table(title="Troligast", show_header=True, header_style="bold")
    table.add_column("Ämne")
    table.add_column("Sannolikhet", justify="right")
    for _intent, title, confidence in result.ranking:
        table.add_row(Text(title), f"{confidence:.0%}")
    console.print(table)
    if result.answer:
        console.print(Panel(Text(plain_links(result.answer.text)), title="Läs upp",
                            border_style="green"))
        if result.answer.follow_ups:
            console.print(Text("Följdfrågor: " + " · ".join(result.answer.follow_ups)))
    for reason in result.escalate:
        console.print(Text(f"Eskalera? {reason}", style="bold yellow"))


def main(argv: Optional[List[str]] = None) -> int:
    from rich.console import Console
    from rich.text import Text

    parser = argparse.ArgumentParser(description="Triage script for service-desk agents.")
    parser.add_argument("--url", default=f"http://127.0.0.1:{os.environ.get('RASA_PORT', 5005)}")
    parser.add_argument("--local", action="store_true",
                        help="load the model in this process instead of asking a running bot")
    args = parser.parse_args(argv)
    console = Console(highlight=False)
    if args.local:
        console.print("Laddar modellen (ungefär en halv minut) …")
        parse = LocalParser(MODEL)
    else:
        token = load_secret("RASA_API_TOKEN")
        if not token:
            console.print("RASA_API_TOKEN (eller RASA_API_TOKEN_FILE) saknas: starta boten "
                          "med den (make run) "
                          "eller använd --local.")
            return 2
        parse = HttpParser(args.url, token)
    contact = site_values(domain_responses())["servicecenter_contact"]
    console.print(Text("Skriv vad den som ringer säger. Avsluta med Ctrl-D.\n"
                       f"Eskalering: {plain_links(contact)}"))
    while True:
        try:
            said = input("\nDen som ringer: ").strip()
        except (EOFError, KeyboardInterrupt):
            console.print()
            return 0
        if not said:
            continue
        masked = mask_sensitive(said)
        if masked.found:
            console.print(masked_warning())
        try:
            result = triage(masked.text, parse(masked.text))
        except httpx.HTTPError:
            console.print(f"Boten svarar inte på {args.url}. Är den startad med `make run`?")
            continue
        render(result, console)


def masked_warning() -> Any:
    from rich.text import Text

    return Text("Koden/personnumret togs bort. Be aldrig om koder (till exempel PUK-kod) "
                "eller personnummer.", style="bold red")


if __name__ == "__main__":
    sys.exit(main())
