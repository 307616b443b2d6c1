"""A linear intent classifier: TF-IDF weighted bag of lemmas and character n-grams,
multinomial logistic regression.

Why not only DIET: on the staff-style tuning set (docs/nlu.md) this classifier
answered more FAQ questions right at once, with fewer confident wrong answers,
than DIET on the same features; it also trains in seconds and answers in well
under a millisecond. It reads the sentence-level sparse features the
CountVectorsFeaturizers put on each message, weights each featurizer's block
with TF-IDF (sublinear term frequency, L2-normalised rows) and fits
scikit-learn's ``LogisticRegression``.

A second opinion when the word model is unsure: a second logistic regression over
the same blocks plus a multilingual sentence vector (``sentence_encoder.py``,
multilingual-e5-small), weighted like one more block. The vector costs 10-25 ms a
message, so it is computed only for a message whose best intent under the word model
is below ``second_opinion_below``; on the tuning sets that is one message in twenty and
gives the whole gain of using it everywhere (docs/nlu.md, "Round 23").

The trained model is stored as plain arrays (``numpy.savez``, loaded without
pickle), so loading a model never runs code from the model file.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text, Type

import numpy as np
import scipy.sparse
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers import LABEL_RANKING_LENGTH
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.nlu.featurizers.featurizer import Featurizer
from rasa.shared.nlu.constants import (
    FEATURE_TYPE_SENTENCE,
    INTENT,
    INTENT_NAME_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import normalize

from bot.components.sentence_encoder import SentenceEncoder, encoder_fingerprint

logger = logging.getLogger(__name__)

MODEL_FILE = "linear_intent_classifier.npz"


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True
)
class LinearIntentClassifier(IntentClassifier, GraphComponent):
    """TF-IDF + logistic regression over the messages' sparse sentence features."""

    @classmethod
    def required_components(cls) -> List[Type]:
        return [Featurizer]

    @staticmethod
    def required_packages() -> List[Text]:
        return ["sklearn"]

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            # Inverse regularisation strength of the logistic regression.
            "C": 50.0,
            # Weigh each intent by the inverse of its number of examples (off: out_of_scope,
            # the largest and most varied intent, then loses to near-miss FAQ answers).
            "balanced": False,
            # 1 + log(tf) instead of raw counts: a repeated word counts less.
            "sublinear_tf": True,
            "max_iter": 5000,
            "ranking_length": LABEL_RANKING_LENGTH,
            # Ask the second model (words + sentence vector) when the word model's best
            # intent is below this probability; 0 turns the second opinion off.
            "second_opinion_below": 0.0,
            # The sentence vector's weight beside the (unit-length) TF-IDF blocks.
            "sentence_vector_weight": 1.0,
            # OpenMP threads for one sentence vector; None: every core.
            "encoder_threads": None,
        }

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        classes: Optional[np.ndarray] = None,
        origins: Optional[List[Text]] = None,
        idf: Optional[np.ndarray] = None,
        coef: Optional[np.ndarray] = None,
        intercept: Optional[np.ndarray] = None,
        second_coef: Optional[np.ndarray] = None,
        second_intercept: Optional[np.ndarray] = None,
        encoder: Optional[SentenceEncoder] = None,
    ) -> None:
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self.classes = classes
        self.origins = origins or []
        self.idf = idf
        self.coef = coef
        self.intercept = intercept
        # (features x intents), contiguous: a sparse row times it is one pass, no copy.
        self._coef_t = np.ascontiguousarray(coef.T) if coef is not None else None
        self.second_coef = second_coef
        self.second_intercept = second_intercept
        self._second_coef_t = (np.ascontiguousarray(second_coef.T)
                               if second_coef is not None else None)
        self._encoder = encoder

    @property
    def asks_second_opinion(self) -> bool:
        return self.config["second_opinion_below"] > 0

    @property
    def encoder(self) -> SentenceEncoder:
        if self._encoder is None:
            self._encoder = SentenceEncoder(self.config["encoder_threads"])
        return self._encoder

    @classmethod
    def fingerprint_addon(cls, config: Dict[str, Any]) -> Optional[str]:
        """Rasa's training cache sees the config, not the encoder: a new engine or a new
        way of preparing texts must not reuse a second model learnt on other vectors."""
        if not config.get("second_opinion_below"):
            return None
        return encoder_fingerprint()

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> LinearIntentClassifier:
        return cls(config, model_storage, resource)

    # --- features ---------------------------------------------------------------------

    @staticmethod
    def _origins(message: Message) -> List[Text]:
        """The featurizers that put sparse sentence features on the message's text."""
        return [
            f.origin for f in message.features
            if f.attribute == TEXT and f.is_sparse() and f.type == FEATURE_TYPE_SENTENCE
        ]

    def _blocks(self, messages: List[Message]) -> List[scipy.sparse.csr_matrix]:
        """One count matrix per featurizer (words, character n-grams ...)."""
        blocks = []
        for origin in self.origins:
            rows = []
            for message in messages:
                sentence = next(
                    (f.features for f in message.features
                     if f.origin == origin and f.attribute == TEXT
                     and f.type == FEATURE_TYPE_SENTENCE and f.is_sparse()),
                    None,
                )
                if sentence is None:
                    raise ValueError(f"no sentence features from {origin} on a message")
                rows.append(scipy.sparse.csr_matrix(sentence))
            blocks.append(rows[0] if len(rows) == 1 else scipy.sparse.vstack(rows).tocsr())
        return blocks

    def _weighted(self, blocks: List[scipy.sparse.csr_matrix]) -> scipy.sparse.csr_matrix:
        """Each featurizer's counts TF-IDF weighted and L2-normalised on its own (so
        the many character n-grams do not drown the words), side by side. The same
        arithmetic as scikit-learn's TfidfTransformer, without building an idf
        diagonal matrix per message."""
        weighted, start = [], 0
        for block in blocks:
            idf = self.idf[start:start + block.shape[1]]
            start += block.shape[1]
            block = block.astype(np.float64, copy=True)
            if self.config["sublinear_tf"]:
                np.log(block.data, out=block.data)
                block.data += 1.0
            block.data *= idf[block.indices]
            weighted.append(normalize(block, norm="l2", copy=False))
        return scipy.sparse.hstack(weighted, format="csr")

    def _with_vectors(self, weighted: scipy.sparse.csr_matrix,
                      vectors: np.ndarray) -> scipy.sparse.csr_matrix:
        """The weighted blocks with the sentence vectors (unit length, times their
        weight) as one more block."""
        block = normalize(vectors.astype(np.float64)) * self.config["sentence_vector_weight"]
        return scipy.sparse.hstack([weighted, scipy.sparse.csr_matrix(block)], format="csr")

    # --- training -----------------------------------------------------------------------

    def _regression(self) -> LogisticRegression:
        return LogisticRegression(
            C=self.config["C"],
            class_weight="balanced" if self.config["balanced"] else None,
            max_iter=self.config["max_iter"],
        )

    def train(self, training_data: TrainingData) -> Resource:
        examples = [e for e in training_data.intent_examples if e.get(INTENT) and e.get(TEXT)]
        if not examples:
            logger.debug("No intent examples: LinearIntentClassifier is not trained.")
            return self._resource
        self.origins = self._origins(examples[0])
        if not self.origins:
            raise ValueError("LinearIntentClassifier needs sparse featurizers before it")
        blocks = self._blocks(examples)
        self.idf = np.concatenate([
            TfidfTransformer(sublinear_tf=self.config["sublinear_tf"]).fit(block).idf_
            for block in blocks
        ])
        clf = self._regression()
        weighted, intents = self._weighted(blocks), [e.get(INTENT) for e in examples]
        clf.fit(weighted, intents)
        self.classes = np.asarray(clf.classes_, dtype=str)
        self.coef = clf.coef_
        self.intercept = clf.intercept_
        self._coef_t = np.ascontiguousarray(self.coef.T)
        if self.asks_second_opinion:
            vectors = self.encoder.embed_training([e.get(TEXT) for e in examples])
            second = self._regression().fit(self._with_vectors(weighted, vectors), intents)
            if list(second.classes_) != list(clf.classes_):
                raise ValueError("the two models learnt different intents")
            self.second_coef = second.coef_
            self.second_intercept = second.intercept_
            self._second_coef_t = np.ascontiguousarray(self.second_coef.T)
        self.persist()
        return self._resource

    def persist(self) -> None:
        second = ({"second_coef": self.second_coef, "second_intercept": self.second_intercept}
                  if self.second_coef is not None else {})
        with self._model_storage.write_to(self._resource) as model_dir:
            np.savez(
                model_dir / MODEL_FILE,
                classes=self.classes,
                origins=np.asarray(self.origins, dtype=str),
                idf=self.idf,
                coef=self.coef,
                intercept=self.intercept,
                **second,
            )

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> LinearIntentClassifier:
        try:
            with model_storage.read_from(resource) as model_dir:
                with np.load(model_dir / MODEL_FILE, allow_pickle=False) as stored:
                    classifier = cls(
                        config, model_storage, resource, classes=stored["classes"],
                        origins=[str(o) for o in stored["origins"]],
                        idf=stored["idf"], coef=stored["coef"], intercept=stored["intercept"],
                        second_coef=stored.get("second_coef"),
                        second_intercept=stored.get("second_intercept"))
        except (ValueError, FileNotFoundError):
            logger.debug("LinearIntentClassifier has no trained model; it predicts nothing.")
            return cls(config, model_storage, resource)
        if classifier.asks_second_opinion and classifier.second_coef is not None:
            classifier.encoder  # noqa: B018 - load the engine now, not at the first unsure message
        return classifier

    # --- prediction ---------------------------------------------------------------------

    def probabilities(self, messages: List[Message]) -> np.ndarray:
        """One row of intent probabilities per message (columns: ``self.classes``): the
        word model's, or the second model's where the word model is unsure."""
        weighted = self._weighted(self._blocks(messages))
        probabilities = _softmax(np.asarray(weighted @ self._coef_t) + self.intercept)
        if not self.asks_second_opinion or self._second_coef_t is None:
            return probabilities
        unsure = np.flatnonzero(probabilities.max(axis=1) < self.config["second_opinion_below"])
        if unsure.size:
            vectors = self.encoder.embed([messages[i].get(TEXT) for i in unsure])
            scores = self._with_vectors(weighted[unsure], vectors) @ self._second_coef_t
            probabilities[unsure] = _softmax(np.asarray(scores) + self.second_intercept)
        return probabilities

    def _has_text_features(self, message: Message) -> bool:
        return all(
            any(f.origin == origin and f.attribute == TEXT and f.type == FEATURE_TYPE_SENTENCE
                for f in message.features)
            for origin in self.origins
        )

    def process(self, messages: List[Message]) -> List[Message]:
        if self.classes is None or not messages:
            return messages
        # An empty or blank message has no features: like DIET, no intent and confidence 0,
        # which the FallbackClassifier then turns into nlu_fallback (the honest no).
        featured = []
        for message in messages:
            if self._has_text_features(message):
                featured.append(message)
            else:
                message.set(INTENT, {INTENT_NAME_KEY: None, PREDICTED_CONFIDENCE_KEY: 0.0},
                            add_to_output=True)
                message.set("intent_ranking", [], add_to_output=True)
        if not featured:
            return messages
        for message, row in zip(featured, self.probabilities(featured), strict=True):
            order = np.argsort(-row)
            ranking = [
                {INTENT_NAME_KEY: str(self.classes[i]), PREDICTED_CONFIDENCE_KEY: float(row[i])}
                for i in order
            ]
            if self.config["ranking_length"] > 0:
                ranking = ranking[: self.config["ranking_length"]]
            message.set(INTENT, ranking[0], add_to_output=True)
            message.set("intent_ranking", ranking, add_to_output=True)
        return messages


def _softmax(scores: np.ndarray) -> np.ndarray:
    scores = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(scores)
    return exp / exp.sum(axis=1, keepdims=True)
