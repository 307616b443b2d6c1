"""NLU on questions written separately from the training data."""

import json

import pytest

from bot.nlu_eval import evaluate, load_examples

# Measured 0.946 accuracy and 0.932 macro-F1 on this data and config (make bench);
# a drop below these is a regression.
MIN_ACCURACY = 0.92
MIN_MACRO_F1 = 0.90


@pytest.mark.stack
def test_heldout_accuracy_and_f1(bot, tmp_path_factory):
    examples = load_examples()
    assert len(examples) >= 150
    report = evaluate(lambda text: bot.parse(text)["intent"]["name"], examples)
    out = tmp_path_factory.mktemp("nlu") / "heldout_report.json"
    out.write_text(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    print(f"held-out accuracy {report.accuracy:.3f}, macro-F1 {report.macro_f1:.3f}; {out}")
    assert report.accuracy >= MIN_ACCURACY, report.confusions
    assert report.macro_f1 >= MIN_MACRO_F1


def test_heldout_file_shares_no_example_with_training_data():
    from rasa.shared.nlu.training_data.loading import load_data

    train = {m.get("text").lower().strip() for m in load_data("data/nlu").intent_examples}
    overlap = [t for t, _ in load_examples() if t.lower().strip() in train]
    assert not overlap
