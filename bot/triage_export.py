"""`make triage-export`: the whole triage script as printable HTML and Markdown.

Generated from the bot's own data so it never drifts from the bot: every FAQ
question (``bot/faq_questions.yml``) with the answer the bot gives
(``domain.yml`` + ``site.yml``) and its follow-ups, every way a card can be told with the
responses the chat's card check gives for it (``actions/card_states.py``: the same function,
the same site dates), and when to escalate (``config.yml`` thresholds, the escalation
intents, answers that refer to Servicecenter).
"""

from __future__ import annotations

import argparse
import html
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

from actions.card_states import CardCase, Utterance, card_cases, explain_card
from bot.faq_catalog import faq_catalog
from bot.site_config import load_site_config
from bot.triage import (
    ESCALATE_INTENTS,
    REPO,
    Answer,
    answer,
    domain_responses,
    fallback_thresholds,
    response_for,
)

_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
_ITEM = re.compile(r"^(- |\d+\. )")

# Headings for staff (UI text of the script), one per case of actions/card_states.py.
CASE_TITLES = {
    "no_reader": "Ingen kortläsare",
    "no_card": "Inget kort i kortläsaren",
    "not_a_siths_card": "Inte ett SITHS-kort",
    "expired": "Certifikaten har gått ut",
    "pin_blocked_legitimering": "Spärrad legitimeringskod",
    "pin_blocked_signering": "Spärrad signeringskod",
    "pin_blocked_both": "Båda koderna spärrade",
    "pin_blocked_unknown": "En spärrad kod (vilken framgår inte)",
    "pin_blocked_old_card_too_late": "Spärrad kod på ett kort som inte uppgraderades i tid",
    "not_upgraded": "Bara gamla certifikat, före sista dagen för uppgradering",
    "not_upgraded_choice": "Bara gamla certifikat, går ut snart: uppgradera eller vänta",
    "not_upgraded_too_late": "Bara gamla certifikat, efter sista dagen för uppgradering",
    "expiring_soon": "Certifikaten går snart ut",
    "upgraded": "Uppgraderat",
    "upgraded_incomplete": "Nya certifikat, men inte alla",
    "upgraded_with_old_restored": "Uppgraderat, med de gamla certifikaten kvar",
    "eid_level2": "Certifikat med tillitsnivå 2",
    "final_try_legitimering": "Legitimeringskoden har ett försök kvar",
    "final_try_signering": "Signeringskoden har ett försök kvar",
    "final_try_both": "Båda koderna har ett försök kvar",
    "final_try_unknown": "En kod har ett försök kvar (vilken framgår inte)",
}
# Facts read from the card, as the script shows them (the chat shows the card's own).
CARD_FACT_PLACEHOLDERS = {"expiry_date": "[datum från kortet]"}


@dataclass
class CardTold:
    key: str
    answers: List[Answer]  # the responses the chat gives for it, in order

    @property
    def title(self) -> str:
        return CASE_TITLES.get(self.key, self.key)

    @property
    def text(self) -> str:
        return "\n\n".join(a.text for a in self.answers)

    @property
    def follow_ups(self) -> List[str]:
        return [f for a in self.answers for f in a.follow_ups]

    @property
    def escalate(self) -> bool:
        return any(a.refers_to_servicecenter for a in self.answers)


def tell_case(case: CardCase, card_values: Optional[dict] = None) -> CardTold:
    """The chat's words for ``case`` (explain_card), card facts shown as ``card_values``
    (default: placeholders; the real values in tests that compare with the chat)."""
    said: List[Utterance] = explain_card(case.answer, load_site_config().dates, case.today)
    shown = card_values if card_values is not None else CARD_FACT_PLACEHOLDERS
    return CardTold(case.key, [
        answer(u.response, {k: shown.get(k, v) for k, v in u.values.items()}) for u in said
    ])


def card_told() -> List[CardTold]:
    """Every way the chat can tell a card, with the site's dates."""
    return [tell_case(c) for c in card_cases(load_site_config().dates)]


@dataclass
class FaqItem:
    title: str
    questions: List[str]
    answer: Answer


def faq_items() -> List[FaqItem]:
    return [FaqItem(e.title, list(e.questions), answer(e.response)) for e in faq_catalog().values()]


def escalation() -> Answer:
    """Where to hand a call on: the chat's own handoff answer (with its example note)."""
    return answer("utter_handoff")


def escalation_rules() -> List[str]:
    threshold, ambiguity = fallback_thresholds()
    rules = [
        f"Boten är osäker: den troligaste frågan har under {threshold:.0%} säkerhet, eller de "
        f"två troligaste skiljer sig mindre än {ambiguity:.0%}. Ställ en följdfråga; stämmer "
        "inget, eskalera.",
    ]
    rules += list(ESCALATE_INTENTS.values())
    rules.append("Svaret hänvisar till Servicecenter (markerat med ⚑ nedan) och den som ringer "
                 "behöver det, till exempel ett nytt kort.")
    rules.append("Kortets läge säger att Servicecenter ska kontaktas (markerat med ⚑ nedan).")
    rules.append("Be aldrig om koder (till exempel PUK-kod) eller personnummer, och skriv "
                 "aldrig ner dem.")
    return rules


def other_answers() -> List[tuple]:
    """Answers outside the FAQ the agent may need: handoff, out of scope, card requests."""
    out = []
    for intent, title in (("human_handoff", "Vill prata med en människa"),
                          ("out_of_scope", "Frågan gäller inte SITHS-kortet"),
                          ("lost_card", "Kortet har kommit bort eller blivit stulet"),
                          ("check_card", "Vill kontrollera kortet"),
                          ("start_upgrade", "Vill uppgradera kortet"),
                          ("order_puk", "Vill beställa en PUK-kod")):
        name = response_for(intent)
        if name:
            out.append((title, answer(name)))
    if "utter_cannot_answer" in domain_responses():
        out.append(("Boten kan inte svara", answer("utter_cannot_answer")))
    out += [(title, answer(name)) for name, title in CARD_OUT_OF_REACH]
    return out


# What the chat says when it cannot read the card, with headings for staff (UI text).
CARD_OUT_OF_REACH = (
    ("utter_card_agent_unreachable", "Kortprogrammet svarar inte"),
    ("utter_card_not_reachable_here", "Chatten öppnad där kortet inte kan läsas"),
    ("utter_card_agent_not_verified", "Kortprogrammet kunde inte bekräftas"),
    ("utter_card_no_reader_service", "Datorn kan inte läsa kort"),
    ("utter_card_removed", "Kortet togs ut medan det lästes"),
    ("utter_card_agent_error", "Fel när kortet lästes"),
    ("utter_notice_no_answer", "Boten fick inget svar fram"),
    ("utter_upgrade_yourself",
     "Läggs till efter de fyra första och efter 'inget svar', fram till sista dagen för "
     "uppgradering"),
)


# --- Markdown ---

def to_markdown() -> str:
    site = load_site_config()
    lines = [f"# Triageskript: SITHS-kortet ({site.region_name})", "",
             "Genererat från chattbotens egna data. Ändra inte här: ändra i boten och "
             "generera om (`make triage-export`).", "",
             f"**Eskalering:** {escalation().text}", "", "## När du ska eskalera", ""]
    lines += [f"- {rule}" for rule in escalation_rules()]
    lines += ["", "## Frågor och svar", ""]
    for item in faq_items():
        flag = " ⚑" if item.answer.refers_to_servicecenter else ""
        lines += [f"### {item.title}{flag}", ""]
        lines += [f"> {q}" for q in item.questions]
        lines += ["", "**Läs upp:**", "", item.answer.text, ""]
        if item.answer.follow_ups:
            lines += ["**Följdfrågor:** " + " · ".join(item.answer.follow_ups), ""]
    lines += ["## Kortets läge", "",
              "Vad chatten säger om kortet när kortprogrammet har läst det, och vad den som "
              "ringer ska göra.", ""]
    for case in card_told():
        flag = " ⚑" if case.escalate else ""
        lines += [f"### {case.title}{flag}", "", "**Läs upp:**", "", case.text, ""]
        if case.follow_ups:
            lines += ["**Följdfrågor:** " + " · ".join(case.follow_ups), ""]
    lines += ["## Andra svar", ""]
    for title, ans in other_answers():
        lines += [f"### {title}", "", ans.text, ""]
    return "\n".join(lines).rstrip() + "\n"


# --- HTML (printable) ---

def _inline(text: str) -> str:
    """Escaped text with the bot's Markdown links as <a>."""
    out, last = [], 0
    for m in _LINK.finditer(text):
        out.append(html.escape(text[last:m.start()]))
        url = m.group(2)
        if url.startswith(("https://", "http://", "mailto:")):
            out.append(f'<a href="{html.escape(url)}">{html.escape(m.group(1))}</a>'
                       f' <span class="url">({html.escape(url)})</span>')
        else:
            out.append(html.escape(m.group(0)))
        last = m.end()
    out.append(html.escape(text[last:]))
    return "".join(out)


def _block(text: str) -> str:
    paragraphs = []
    for part in text.split("\n\n"):
        lines = part.split("\n")
        items = [ln for ln in lines if _ITEM.match(ln)]
        if items and len(items) == len(lines) - 1 and not _ITEM.match(lines[0]):
            lis = "".join("<li>" + _inline(_ITEM.sub("", ln)) + "</li>" for ln in items)
            paragraphs.append(f"<p>{_inline(lines[0])}</p><ul>{lis}</ul>")
        else:
            paragraphs.append("<p>" + "<br>".join(_inline(ln) for ln in lines) + "</p>")
    return "".join(paragraphs)


CSS = """
body { font: 11pt/1.45 system-ui, Arial, sans-serif; color: #111; max-width: 48em;
  margin: 2em auto; }
h1 { font-size: 18pt; } h2 { font-size: 14pt; border-bottom: 1px solid #888; margin-top: 2em; }
h3 { font-size: 12pt; margin-bottom: .3em; } section { break-inside: avoid; margin-bottom: 1em; }
blockquote { margin: .3em 0; color: #333; font-style: italic; }
.say { border-left: 4px solid #00527a; padding-left: .8em; }
.flag { color: #8a4b00; font-weight: bold; } code { font-size: 10pt; }
.url { display: none; } a { color: #0a4a8a; }
@media print { a { color: #111; text-decoration: none; } .url { display: inline; font-size: 9pt; }
  h2 { break-before: page; } h2:first-of-type { break-before: auto; } }
"""


def to_html() -> str:
    site = load_site_config()
    e = html.escape
    parts = [
        "<!doctype html>", '<html lang="sv"><head><meta charset="utf-8">',
        f"<title>Triageskript: SITHS-kortet ({e(site.region_name)})</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>Triageskript: SITHS-kortet ({e(site.region_name)})</h1>",
        "<p>Genererat från chattbotens egna data. Ändra inte här: ändra i boten och generera om "
        "(<code>make triage-export</code>).</p>",
        f"<p><strong>Eskalering:</strong></p>{_block(escalation().text)}",
        "<h2>När du ska eskalera</h2><ul>",
        *[f"<li>{e(rule)}</li>" for rule in escalation_rules()],
        "</ul><h2>Frågor och svar</h2>",
    ]
    for item in faq_items():
        flag = ' <span class="flag" title="Hänvisar till Servicecenter">⚑</span>' \
            if item.answer.refers_to_servicecenter else ""
        parts.append(f"<section><h3>{e(item.title)}{flag}</h3>")
        parts += [f"<blockquote>{e(q)}</blockquote>" for q in item.questions]
        parts.append(f'<div class="say"><strong>Läs upp:</strong>{_block(item.answer.text)}</div>')
        if item.answer.follow_ups:
            parts.append("<p><strong>Följdfrågor:</strong> "
                         + " · ".join(e(f) for f in item.answer.follow_ups) + "</p>")
        parts.append("</section>")
    parts.append("<h2>Kortets läge</h2><p>Vad chatten säger om kortet när kortprogrammet har "
                 "läst det, och vad den som ringer ska göra.</p>")
    for case in card_told():
        flag = ' <span class="flag" title="Hänvisar till Servicecenter">⚑</span>' \
            if case.escalate else ""
        parts.append(
            f"<section><h3>{e(case.title)}{flag}</h3>"
            f'<div class="say"><strong>Läs upp:</strong>{_block(case.text)}</div>'
        )
        if case.follow_ups:
            parts.append("<p><strong>Följdfrågor:</strong> "
                         + " · ".join(e(f) for f in case.follow_ups) + "</p>")
        parts.append("</section>")
    parts.append("<h2>Andra svar</h2>")
    for title, ans in other_answers():
        parts.append(f"<section><h3>{e(title)}</h3>{_block(ans.text)}</section>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "dist")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "triage.md").write_text(to_markdown(), encoding="utf-8")
    (args.out / "triage.html").write_text(to_html(), encoding="utf-8")
    print(f"Triage script: {args.out / 'triage.html'} and {args.out / 'triage.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
