"""Reproduce the candidates table of docs/classifier.md: `python -m nlp.candidates [--skip-textcat]`.

Every candidate is trained on nlp/data/train.jsonl only (the e5 variants are calibrated on dev) and measured on
dev, test and defects: macro-F1 / accuracy / top-2 accuracy, then single-text latency. Prints Markdown rows.
Takes a few minutes (the embedding cache in nlp/.cache makes reruns faster).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from nlp.baseline import Baseline
from nlp.datacheck import read_jsonl
from nlp.fields import load_fields
from nlp.metrics import compute
from nlp.model import FieldClassifier
from nlp.train import DEFAULT_DEV, DEFAULT_TRAIN, TrainConfig, TrainInputs, train

DATA = Path(__file__).resolve().parent / "data"
SETS = ("dev", "test", "defects")
_WITHOUT_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue"})
Scorer = Callable[[Sequence[str]], npt.NDArray[np.float64]]


def _textcat_bow(texts: Sequence[str], fields: Sequence[str], labels: Sequence[str]) -> Scorer:
    """spaCy's own bag-of-words text classifier (word unigrams and bigrams), 10 epochs."""
    import spacy
    from spacy.training import Example
    from thinc.api import fix_random_seed

    fix_random_seed(0)
    pipeline = spacy.blank("de")
    model = {"@architectures": "spacy.TextCatBOW.v3", "exclusive_classes": True, "ngram_size": 2,
             "no_output_layer": False, "length": 262144}
    textcat = pipeline.add_pipe("textcat", config={"model": model})
    for label in labels:
        textcat.add_label(label)  # type: ignore[attr-defined]
    examples = [
        Example.from_dict(pipeline.make_doc(t), {"cats": {k: float(k == f) for k in labels}})
        for t, f in zip(texts, fields, strict=True)
    ]
    optimizer = pipeline.initialize(lambda: examples)
    for epoch in range(10):
        random.Random(epoch).shuffle(examples)
        for start in range(0, len(examples), 32):
            pipeline.update(examples[start : start + 32], sgd=optimizer)

    def scores(batch: Sequence[str]) -> npt.NDArray[np.float64]:
        return np.array([[doc.cats[k] for k in labels] for doc in pipeline.pipe(batch)], dtype=np.float64)

    return scores


def _classifier_scorer(classifier: FieldClassifier) -> Scorer:
    def scores(batch: Sequence[str]) -> npt.NDArray[np.float64]:
        results = classifier.classify_many(batch)
        return np.array([[r.scores[k] for k in classifier.labels] for r in results], dtype=np.float64)

    return scores


def _row(name: str, scorer: Scorer, labels: Sequence[str], data: dict[str, tuple[list[str], list[str]]]) -> str:
    cells = []
    for name_of_set in SETS:
        texts, gold = data[name_of_set]
        m = compute(labels, gold, scorer(texts))
        cells.append(f"{m.macro_f1:.3f} / {m.accuracy:.3f} / {m.top2_accuracy:.3f}")
    sample = data["test"][0][:100]
    started = time.perf_counter()
    for text in sample:
        scorer([text])
    latency = (time.perf_counter() - started) / len(sample) * 1000
    return f"| {name} | " + " | ".join(cells) + f" | {latency:.1f} |"


def _umlaut_check(
    loaded: dict[str, FieldClassifier], labels: Sequence[str], dev: tuple[list[str], list[str]]
) -> None:
    """Dev texts written with umlauts, typed again without them: what restoring umlauts before embedding buys."""
    keep = [i for i, text in enumerate(dev[0]) if any(char in "äöüÄÖÜß" for char in text)]
    original = [dev[0][i] for i in keep]
    typed = [text.translate(_WITHOUT_UMLAUTS) for text in original]
    gold = [dev[1][i] for i in keep]
    print(f"\nDev texts with umlauts ({len(keep)}), macro-F1 as written / typed without umlauts:")
    for name, classifier in loaded.items():
        scorer = _classifier_scorer(classifier)
        written, plain = compute(labels, gold, scorer(original)), compute(labels, gold, scorer(typed))
        print(f"| {name} | {written.macro_f1:.3f} | {plain.macro_f1:.3f} |", flush=True)


def main(argv: Sequence[str]) -> int:
    """Train and measure every candidate; print the Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--skip-textcat", action="store_true", help="leave out spaCy's TextCatBOW (slowest)")
    args = parser.parse_args(list(argv))
    labels = tuple(f.key for f in load_fields())
    training = read_jsonl(DEFAULT_TRAIN, labels)
    texts, fields = [e.text for e in training], [e.field for e in training]
    data = {}
    for name in SETS:
        examples = read_jsonl(DATA / f"{name}.jsonl", labels)
        data[name] = ([e.text for e in examples], [e.field for e in examples])
    print("| candidate | dev F1 / acc / top-2 | test F1 / acc / top-2 | defects F1 / acc / top-2 | ms/text |")
    print("|---|---|---|---|---|")
    if not args.skip_textcat:
        print(_row("spaCy TextCatBOW (words 1-2)", _textcat_bow(texts, fields, labels), labels, data), flush=True)
    baseline = Baseline.fit(texts, fields, labels)
    print(_row("baseline: char_wb 2-5 TF-IDF + LR", baseline.scores, labels, data), flush=True)
    variants = {
        "e5 passage + LR": TrainConfig(prefix="passage", embed_share=1.0, exit_precision=None, restore_umlauts=False),
        "e5 query + LR": TrainConfig(embed_share=1.0, exit_precision=None, restore_umlauts=False),
        "e5 query + LR, umlauts restored": TrainConfig(embed_share=1.0, exit_precision=None),
        "folded char_wb 2-6 + LR (char head alone)": TrainConfig(
            embed_share=0.0, exit_precision=0.0, mask_places=False
        ),
        "pooled e5 query + char, always both": TrainConfig(
            exit_precision=None, mask_places=False, restore_umlauts=False
        ),
        "pooled + early exit": TrainConfig(mask_places=False, restore_umlauts=False),
        "pooled + early exit + street names masked": TrainConfig(restore_umlauts=False),
        "pooled + early exit + street names masked + umlauts restored (shipped)": TrainConfig(),
    }
    loaded: dict[str, FieldClassifier] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for name, config in variants.items():
            output = Path(scratch) / str(len(name))
            train(TrainInputs(train=DEFAULT_TRAIN, dev=DEFAULT_DEV), output, config, log=lambda _: None)
            classifier = loaded[name] = FieldClassifier.load(output)
            if config.exit_precision == 0.0:
                heads = classifier.scorer.heads
                assert heads is not None
                heads.exit_threshold = 0.0  # always the character head's own answer
            print(_row(name, _classifier_scorer(classifier), labels, data), flush=True)
    _umlaut_check(loaded, labels, data["dev"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
