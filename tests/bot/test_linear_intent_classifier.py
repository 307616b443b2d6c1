"""The TF-IDF + logistic regression intent classifier (bot/components/), without Rasa's
featurizers: messages carry hand-made sparse sentence features from two 'featurizers'."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.components.linear_intent_classifier import LinearIntentClassifier
from bot.components.sentence_encoder import (
    MAX_CHARS,
    MAX_TOKENS,
    SentenceEncoder,
    cleaned,
    clipped,
)

REPO = Path(__file__).resolve().parents[2]
WORDS = ["puk", "kostar", "kort", "kolla", "lunch"]
CHARS = ["pu", "ko", "ka", "lu"]


def message(text: str, intent: str | None = None) -> Message:
    msg = Message(data={"text": text, **({"intent": intent} if intent else {})})
    words = [[float(text.count(w)) for w in WORDS]]
    chars = [[float(text.count(c)) for c in CHARS]]
    msg.add_features(Features(scipy.sparse.coo_matrix(words), "sentence", "text", "words"))
    msg.add_features(Features(scipy.sparse.coo_matrix(chars), "sentence", "text", "chars"))
    return msg


TRAINING = [
    ("vad kostar puk", "faq_puk_kostnad"), ("puk kostar", "faq_puk_kostnad"),
    ("kostar en ny puk", "faq_puk_kostnad"),
    ("kolla kort", "check_card"), ("kolla mitt kort", "check_card"),
    ("kort kolla nu", "check_card"),
    ("lunch idag", "out_of_scope"), ("vad blir det till lunch", "out_of_scope"),
    ("lunch lunch", "out_of_scope"),
]


@pytest.fixture
def storage(tmp_path) -> LocalModelStorage:
    return LocalModelStorage(tmp_path)


def trained(storage: LocalModelStorage, resource: Resource, **config) -> LinearIntentClassifier:
    context = ExecutionContext(GraphSchema({}), node_name="linear")
    classifier = LinearIntentClassifier.create(
        {**LinearIntentClassifier.get_default_config(), **config}, storage, resource, context)
    classifier.train(TrainingData([message(t, i) for t, i in TRAINING]))
    return classifier


def test_it_predicts_the_intent_with_a_ranking_that_sums_to_one(storage):
    classifier = trained(storage, Resource("linear"))
    [parsed] = classifier.process([message("vad kostar en puk")])
    assert parsed.get("intent")["name"] == "faq_puk_kostnad"
    ranking = parsed.get("intent_ranking")
    assert [r["name"] for r in ranking][0] == "faq_puk_kostnad"
    assert sum(r["confidence"] for r in ranking) == pytest.approx(1.0)
    assert ranking == sorted(ranking, key=lambda r: -r["confidence"])


def test_a_stored_model_loads_without_pickle_and_predicts_the_same(storage):
    resource = Resource("linear")
    classifier = trained(storage, resource)
    loaded = LinearIntentClassifier.load(
        LinearIntentClassifier.get_default_config(), storage, resource,
        ExecutionContext(GraphSchema({}), node_name="linear"))
    probe = [message("kolla kortet"), message("lunch"), message("puk")]
    assert np.allclose(classifier.probabilities(probe), loaded.probabilities(probe))
    assert loaded.origins == ["words", "chars"]


def test_each_featurizer_is_weighted_on_its_own(storage):
    # Doubling every count of one featurizer leaves the probabilities unchanged: each block
    # is L2-normalised by itself, so the many character n-grams cannot drown the words.
    # (Raw term frequencies here: with the default 1 + log(tf) doubling is not a scaling.)
    classifier = trained(storage, Resource("linear"), sublinear_tf=False)
    plain = message("kolla kort")
    doubled = Message(data={"text": "kolla kort"})
    for f in plain.features:
        doubled.add_features(Features(f.features * (2 if f.origin == "chars" else 1),
                                      f.type, f.attribute, f.origin))
    base, scaled = classifier.probabilities([plain]), classifier.probabilities([doubled])
    assert np.allclose(base, scaled)


def test_untrained_it_leaves_messages_alone(storage):
    classifier = LinearIntentClassifier.load(
        LinearIntentClassifier.get_default_config(), storage, Resource("nothing"),
        ExecutionContext(GraphSchema({}), node_name="linear"))
    [parsed] = classifier.process([message("puk")])
    assert parsed.get("intent") is None


def test_a_blank_message_gets_no_intent_and_confidence_zero(storage):
    # Rasa's featurizers give an empty message no features; DIET answered it like this,
    # and the FallbackClassifier turns it into nlu_fallback.
    classifier = trained(storage, Resource("linear"))
    blank, real = Message(data={"text": ""}), message("vad kostar puk")
    classifier.process([blank, real])
    assert blank.get("intent") == {"name": None, "confidence": 0.0}
    assert blank.get("intent_ranking") == []
    assert real.get("intent")["name"] == "faq_puk_kostnad"


def test_training_without_sparse_features_says_so(storage):
    context = ExecutionContext(GraphSchema({}), node_name="linear")
    classifier = LinearIntentClassifier.create(
        LinearIntentClassifier.get_default_config(), storage, Resource("x"), context)
    with pytest.raises(ValueError, match="sparse featurizers"):
        classifier.train(TrainingData([Message(data={"text": "puk", "intent": "a"})]))


# --- the second opinion: words + a multilingual sentence vector, asked when unsure ------


class CountingEncoder(SentenceEncoder):
    """The real encoder, counting the texts it is asked to embed."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[str] = []

    def embed(self, texts):
        self.asked.extend(texts)
        return super().embed(texts)


def with_second_opinion(storage, resource, below: float) -> LinearIntentClassifier:
    config = {**LinearIntentClassifier.get_default_config(), "second_opinion_below": below}
    classifier = LinearIntentClassifier(config, storage, resource, encoder=CountingEncoder())
    classifier.train(TrainingData([message(t, i) for t, i in TRAINING]))
    return classifier


def test_the_second_model_decides_only_where_the_word_model_is_unsure(storage):
    classifier = with_second_opinion(storage, Resource("linear"), below=0.6)
    encoder = classifier.encoder
    encoder.asked.clear()
    words_only = LinearIntentClassifier(
        {**classifier.config, "second_opinion_below": 0.0}, storage, Resource("linear"),
        classes=classifier.classes, origins=classifier.origins, idf=classifier.idf,
        coef=classifier.coef, intercept=classifier.intercept)
    probe = [message("vad kostar puk"), message("puk kolla"), message("hej")]
    first = words_only.probabilities(probe)
    unsure = [m.get("text") for m, row in zip(probe, first, strict=True) if row.max() < 0.6]
    assert unsure and len(unsure) < len(probe)  # the probe holds both kinds

    final = classifier.probabilities(probe)

    assert encoder.asked == unsure
    for m, row_first, row_final in zip(probe, first, final, strict=True):
        if m.get("text") in unsure:
            assert not np.allclose(row_first, row_final)
            assert row_final.sum() == pytest.approx(1.0)
        else:
            assert np.allclose(row_first, row_final)


def test_the_second_model_is_stored_and_loads_without_pickle(storage):
    resource = Resource("linear")
    classifier = with_second_opinion(storage, resource, below=1.01)  # always asked
    loaded = LinearIntentClassifier.load(
        classifier.config, storage, resource, ExecutionContext(GraphSchema({}), node_name="x"))
    probe = [message("kolla kortet"), message("lunch"), message("puk")]
    assert loaded.second_coef is not None
    assert np.allclose(classifier.probabilities(probe), loaded.probabilities(probe))


def test_without_the_second_opinion_no_sentence_vector_is_made(storage):
    encoder = CountingEncoder()
    classifier = LinearIntentClassifier(LinearIntentClassifier.get_default_config(), storage,
                                        Resource("linear"), encoder=encoder)
    classifier.train(TrainingData([message(t, i) for t, i in TRAINING]))
    classifier.process([message("hej"), message("puk kolla")])
    assert classifier.second_coef is None
    assert encoder.asked == []


def test_sentence_vectors_carry_meaning_the_words_do_not_share():
    encoder = SentenceEncoder()
    lost, letter, lunch = encoder.embed([
        "Jag har tappat bort koderna till mitt kort",
        "Brevet med pinkoden har försvunnit",
        "Vad blir det för lunch i personalrestaurangen idag",
    ])
    assert np.linalg.norm(lost) == pytest.approx(1.0, abs=1e-3)
    assert float(lost @ letter) > float(lost @ lunch) + 0.03
    assert np.allclose(encoder.embed_training(["puk", "kort"]), encoder.embed(["puk", "kort"]),
                       atol=1e-6)


def test_a_long_message_is_embedded_as_its_beginning_and_end():
    question = "Vem hjälper mig att beställa en ny PUK-kod?"
    chatty = "Hej! " + "Jag har hållit på hela förmiddagen med det nya certet. " * 40 + question
    short = SentenceEncoder().prepared(chatty)
    assert len(chatty) > MAX_CHARS and len(short) <= MAX_CHARS + 3
    assert short.startswith("Hej! Jag har hållit på") and short.endswith(question)
    assert clipped(question) == question


def test_a_long_message_of_many_tokens_is_cut_to_the_token_budget():
    encoder = SentenceEncoder()
    for text in ("1234567890 " * 180, "漢字" * 1000):
        prepared = encoder.prepared(text)
        assert encoder._engine.token_count(prepared, True) <= MAX_TOKENS


def test_nul_surrogates_and_control_characters_become_spaces():
    encoder = SentenceEncoder()
    assert cleaned("vad\x00 kostar\npuk") == "vad  kostar puk"
    assert "\ud83d" not in cleaned("hej \ud83d")
    with_nul, plain = encoder.embed(["\x00vad kostar puk", " vad kostar puk"])
    assert np.allclose(with_nul, plain, atol=1e-6)  # not cut at the NUL by ctypes
    assert encoder.embed(["hej \ud83d"]).shape == (1, 384)  # a lone surrogate from JSON


def test_characters_that_expand_do_not_overrun_the_engine():
    # U+FDFA expands to 18 code points; 240 of them overran the engine's buffer and
    # aborted the process (malloc(): corrupted top size), so the check runs in a child.
    child = subprocess.run(
        [sys.executable, "-c",
         "from bot.components.sentence_encoder import SentenceEncoder\n"
         "e = SentenceEncoder()\n"
         "for t in ('\ufdfa' * 240, '\ufdfa' * 2000, '\u33af' * 500):\n"
         "    assert e.embed([t]).shape == (1, 384)\n"
         "print('ok')"],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert child.returncode == 0, child.stderr[-500:]
    assert child.stdout.strip() == "ok"
