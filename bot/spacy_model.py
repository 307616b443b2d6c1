"""Build the spaCy pipeline the NLU uses: blank Swedish + lookup lemmatizer.

The pretrained ``sv_core_news_sm`` is not on the package registries these
machines reach, so the default pipeline is spaCy's blank ``sv`` language with
the Swedish lemma table from ``spacy-lookups-data``. ``make setup`` runs
``python -m bot.spacy_model`` once; config.yml points SpacyNLP at the result.
"""

from __future__ import annotations

import argparse
from pathlib import Path

DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "build" / "spacy" / "sv_lookup"


def build(output: Path = DEFAULT_OUTPUT) -> Path:
    import spacy

    nlp = spacy.blank("sv")
    nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
    nlp.initialize()  # loads the sv lemma lookup table from spacy-lookups-data
    nlp.meta["name"] = "sv_lookup"
    nlp.meta["description"] = "Blank Swedish + lookup lemmatizer (SITHS helpdesk)"
    output.parent.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(output)
    return output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args()
    print(f"spaCy pipeline written to {build(args.output)}")


if __name__ == "__main__":
    main()
