"""Loading the trained classifier and classifying citizens' texts.

>>> classifier = FieldClassifier.load()            # nlp/model/, checked against nlp/fields.yaml
>>> classifier.classify("Der Bus kommt nie pünktlich").field
'mobilitaet'
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import spacy
from spacy.about import __version__ as SPACY_VERSION

from nlp.fields import DEFAULT_PATH as FIELDS_PATH
from nlp.fields import load_fields, taxonomy_hash
from nlp.pipeline import FACTORY, FieldScorer  # importing registers the factory the saved pipeline names
from nlp.text import has_letters, prepare

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "model"
META_KEY = "stadtdialog"  # the classifier's own section of the spaCy meta.json
FORMAT_VERSION = 1
RETRAIN_HINT = "retrain with `make model` (or `stadtdialog nlp train`)"


class ModelError(Exception):
    """The classifier model cannot be used; the message says what to do."""


class ModelMissingError(ModelError):
    """No trained model at the given path."""


class ModelMismatchError(ModelError):
    """The model was trained for another taxonomy, spaCy version or model format."""


@dataclass(frozen=True)
class Classification:
    """The result for one text: the best field (None when the text has no letters) and every field's score."""

    field: str | None
    confident: bool
    scores: dict[str, float]
    model_version: str

    def top(self, count: int = 3) -> list[str]:
        """The `count` best fields, best first (what to offer when not confident)."""
        return sorted(self.scores, key=lambda key: -self.scores[key])[:count] if self.field else []

    def to_json(self) -> dict[str, Any]:
        """The `nlp classify` line: field, confident, scores."""
        return {"field": self.field, "confident": self.confident, "scores": self.scores}


def read_meta(path: Path) -> dict[str, Any]:
    """The classifier part of a model directory's meta.json; ModelMissingError if there is none."""
    meta_file = path / "meta.json"
    if not meta_file.is_file():
        raise ModelMissingError(f"no classifier model in {path}: build it with `make model`")
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))[META_KEY]
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelMismatchError(f"{meta_file} is not a stadtdialog classifier model: {RETRAIN_HINT}") from exc
    if not isinstance(meta, dict):
        raise ModelMismatchError(f"{meta_file} is not a stadtdialog classifier model: {RETRAIN_HINT}")
    return meta


def check_compatible(meta: dict[str, Any], fields_path: Path = FIELDS_PATH) -> None:
    """Raise ModelMismatchError unless the model fits the current taxonomy, spaCy and format."""
    current = taxonomy_hash(load_fields(fields_path))
    if meta.get("taxonomy_hash") != current:
        raise ModelMismatchError(
            f"the classifier was trained for another taxonomy (model {meta.get('taxonomy_hash')}, "
            f"{fields_path.name} {current}): {RETRAIN_HINT}"
        )
    if meta.get("spacy_version") != SPACY_VERSION:
        raise ModelMismatchError(
            f"the classifier was built with spaCy {meta.get('spacy_version')}, this is {SPACY_VERSION}: "
            f"{RETRAIN_HINT}"
        )
    if meta.get("format") != FORMAT_VERSION:
        raise ModelMismatchError(f"the classifier has model format {meta.get('format')}: {RETRAIN_HINT}")


class FieldClassifier:
    """A loaded spaCy pipeline whose scorer gives every strategy field a calibrated probability."""

    def __init__(self, pipeline: spacy.language.Language, meta: dict[str, Any]) -> None:
        self._nlp = pipeline
        self.meta = meta
        self.labels: tuple[str, ...] = tuple(meta["labels"])
        self.version: str = meta["version"]
        self.threshold: float = float(meta["calibration"]["confident_threshold"])
        self.max_chars: int = int(meta["config"]["max_chars"])
        # spaCy's tokenizer cache is not safe for concurrent writers; the runtime may classify from several threads.
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: Path = DEFAULT_MODEL_DIR, fields_path: Path = FIELDS_PATH) -> FieldClassifier:
        """Load and check a model directory (ModelMissingError / ModelMismatchError say how to fix it)."""
        meta = read_meta(path)
        check_compatible(meta, fields_path)
        try:
            pipeline = spacy.load(path)
        except (OSError, ValueError, KeyError) as exc:
            raise ModelMismatchError(f"cannot load the classifier in {path} ({exc}): {RETRAIN_HINT}") from exc
        return cls(pipeline, meta)

    @property
    def scorer(self) -> FieldScorer:
        """The pipeline's scoring component (its trained heads and embedder)."""
        component = self._nlp.get_pipe(FACTORY)
        assert isinstance(component, FieldScorer)
        return component

    def _result(self, cats: dict[str, float] | None) -> Classification:
        if cats is None:
            return Classification(None, False, dict.fromkeys(self.labels, 0.0), self.version)
        scores = {label: round(float(cats[label]), 6) for label in self.labels}
        best = max(self.labels, key=lambda label: cats[label])
        return Classification(best, cats[best] >= self.threshold, scores, self.version)

    def classify(self, text: str) -> Classification:
        """Classify one text; never raises for odd input (no letters → field None)."""
        return self.classify_many([text])[0]

    def classify_many(self, texts: Sequence[str], batch_size: int = 64) -> list[Classification]:
        """Classify many texts, using both cores for the embeddings."""
        prepared = [prepare(text, self.max_chars) for text in texts]
        wanted = [i for i, text in enumerate(prepared) if has_letters(text)]
        cats: list[dict[str, float] | None] = [None] * len(texts)
        with self._lock:
            docs = self._nlp.pipe((prepared[i] for i in wanted), batch_size=batch_size)
            for index, doc in zip(wanted, docs, strict=True):
                cats[index] = doc.cats
        return [self._result(c) for c in cats]
