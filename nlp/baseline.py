"""The frozen baseline every classifier is compared with: character n-grams 2–5 (`char_wb`, sublinear TF-IDF)
and logistic regression (C=10) from scikit-learn, trained on the same data. Do not tune it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

BASELINE_NAME = "baseline: char_wb 2-5 TF-IDF + logistic regression (C=10)"


@dataclass
class Baseline:
    """A fitted baseline; `scores` returns class probabilities in `labels` order."""

    labels: tuple[str, ...]
    vectorizer: Any
    model: Any

    @classmethod
    def fit(cls, texts: Sequence[str], fields: Sequence[str], labels: Sequence[str]) -> Baseline:
        """Train on `texts` labelled with `fields`; `labels` fixes the column order of the scores."""
        vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)
        matrix = vectorizer.fit_transform(list(texts))
        model = LogisticRegression(C=10, max_iter=2000, random_state=0).fit(matrix, list(fields))
        return cls(tuple(labels), vectorizer, model)

    def scores(self, texts: Sequence[str]) -> npt.NDArray[np.float64]:
        """Probabilities (n × labels); a field absent from the training data scores 0."""
        probabilities = self.model.predict_proba(self.vectorizer.transform(list(texts)))
        result = np.zeros((len(texts), len(self.labels)), dtype=np.float64)
        for column, label in enumerate(self.model.classes_):
            if label in self.labels:
                result[:, self.labels.index(label)] = probabilities[:, column]
        return result
