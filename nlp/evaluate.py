"""`nlp evaluate FILE`: the classifier's figures next to the frozen baseline's, as a table or as JSON."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nlp.baseline import BASELINE_NAME, Baseline
from nlp.datacheck import read_jsonl
from nlp.metrics import Metrics, compute
from nlp.model import FieldClassifier


def evaluate(
    classifier: FieldClassifier, path: Path, train_path: Path, extra_train: Sequence[Path] = ()
) -> dict[str, Any]:
    """Figures of `classifier` and of the baseline (trained on `train_path` + extras) on the JSONL file `path`."""
    labels = classifier.labels
    examples = read_jsonl(path, labels)
    texts = [e.text for e in examples]
    gold = [e.field for e in examples]
    started = time.perf_counter()
    results = classifier.classify_many(texts)
    seconds = time.perf_counter() - started
    scores = np.array([[r.scores[label] for label in labels] for r in results]).reshape(len(results), len(labels))
    model_metrics = compute(labels, gold, scores)
    training = read_jsonl(train_path, labels)
    for extra in extra_train:
        training += read_jsonl(extra, labels)
    baseline = Baseline.fit([e.text for e in training], [e.field for e in training], labels)
    baseline_metrics = compute(labels, gold, baseline.scores(texts))
    confident = [r for r, g in zip(results, gold, strict=True) if r.confident]
    return {
        "file": str(path),
        "count": len(examples),
        "model": {"version": classifier.version, **model_metrics.to_json()},
        "baseline": {"name": BASELINE_NAME, "trained_on": len(training), **baseline_metrics.to_json()},
        "confident": {
            "share": len(confident) / len(results) if results else 0.0,
            "precision": (
                sum(r.field == g for r, g in zip(results, gold, strict=True) if r.confident) / len(confident)
                if confident
                else 0.0
            ),
        },
        "texts_per_second": len(texts) / seconds if seconds > 0 else 0.0,
    }


def _figures_table(model: Metrics, baseline: Metrics) -> list[str]:
    lines = [f"{'field':<18} {'P':>6} {'R':>6} {'F1':>6} {'n':>5}   | {'P':>6} {'R':>6} {'F1':>6}"]
    for label in model.labels:
        m, b = model.per_field[label], baseline.per_field[label]
        lines.append(
            f"{label:<18} {m.precision:6.3f} {m.recall:6.3f} {m.f1:6.3f} {m.support:5d}   "
            f"| {b.precision:6.3f} {b.recall:6.3f} {b.f1:6.3f}"
        )
    for name, getter in (("macro-F1", "macro_f1"), ("accuracy", "accuracy"), ("top-2 accuracy", "top2_accuracy")):
        lines.append(f"{name:<18} {getattr(model, getter):20.3f}         | {getattr(baseline, getter):20.3f}")
    return lines


def _confusion(metrics: Metrics) -> list[str]:
    short = [label[:6] for label in metrics.labels]
    lines = ["gold \\ predicted   " + " ".join(f"{s:>6}" for s in short)]
    for label, row in zip(metrics.labels, metrics.confusion, strict=True):
        lines.append(f"{label:<18} " + " ".join(f"{v:6d}" for v in row))
    return lines


def _metrics(section: dict[str, Any]) -> Metrics:
    from nlp.metrics import FieldFigures

    per_field = {k: FieldFigures(**v) for k, v in section["per_field"].items()}
    return Metrics(
        tuple(section["labels"]), per_field, section["macro_f1"], section["accuracy"], section["top2_accuracy"],
        section["confusion"], section["count"],
    )


def format_report(report: dict[str, Any]) -> str:
    """The human-readable report: figures side by side, then both confusion matrices."""
    model, baseline = _metrics(report["model"]), _metrics(report["baseline"])
    lines = [
        f"{report['file']}: {report['count']} texts",
        f"{'':<18} {'classifier ' + report['model']['version']:<36}| {'baseline'}",
        *_figures_table(model, baseline),
        "",
        f"confident on {report['confident']['share']:.0%} of texts, precision there "
        f"{report['confident']['precision']:.3f}; {report['texts_per_second']:.0f} texts/s",
        "",
        "confusion (classifier):",
        *_confusion(model),
        "",
        f"confusion ({report['baseline']['name']}):",
        *_confusion(baseline),
    ]
    return "\n".join(lines)
