"""Classification figures from gold labels and score matrices: per-field P/R/F1, macro-F1, accuracy, top-2."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class FieldFigures:
    """Precision, recall and F1 of one field, with its number of gold examples."""

    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class Metrics:
    """Everything `nlp evaluate` reports for one classifier on one file."""

    labels: tuple[str, ...]
    per_field: dict[str, FieldFigures]
    macro_f1: float
    accuracy: float
    top2_accuracy: float
    confusion: list[list[int]]  # rows: gold field, columns: predicted field, both in `labels` order
    count: int

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (the shape of `nlp evaluate --json`)."""
        data = asdict(self)
        data["labels"] = list(self.labels)
        return data


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else 0.0


def compute(labels: Sequence[str], gold: Sequence[str], scores: npt.NDArray[Any]) -> Metrics:
    """Figures for `scores` (n × labels, any monotone scores) against the `gold` field keys."""
    index = {label: i for i, label in enumerate(labels)}
    truth = np.array([index[g] for g in gold], dtype=np.int64)
    ranking = np.argsort(-scores, axis=1, kind="stable") if len(gold) else np.zeros((0, len(labels)), np.int64)
    predicted = ranking[:, 0] if len(gold) else np.zeros(0, np.int64)
    confusion = np.zeros((len(labels), len(labels)), dtype=np.int64)
    np.add.at(confusion, (truth, predicted), 1)
    per_field: dict[str, FieldFigures] = {}
    for i, label in enumerate(labels):
        hits = int(confusion[i, i])
        precision = _ratio(hits, int(confusion[:, i].sum()))
        recall = _ratio(hits, int(confusion[i, :].sum()))
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_field[label] = FieldFigures(precision, recall, f1, int(confusion[i, :].sum()))
    # Like scikit-learn: average over fields that occur as gold or as prediction.
    seen = confusion.sum(axis=0) + confusion.sum(axis=1)
    present = [per_field[label].f1 for i, label in enumerate(labels) if seen[i]]
    top2 = bool(len(gold)) and float(np.mean([truth[r] in ranking[r, :2] for r in range(len(gold))]))
    return Metrics(
        labels=tuple(labels),
        per_field=per_field,
        macro_f1=float(np.mean(present)) if present else 0.0,
        accuracy=_ratio(int(np.trace(confusion)), len(gold)),
        top2_accuracy=float(top2),
        confusion=confusion.tolist(),
        count=len(gold),
    )
