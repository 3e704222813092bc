"""Deterministic training of the field classifier: fit both heads, calibrate on dev, write the model directory.

`python -m nlp.cli train [--include-labels FILE]` runs it; progress goes to stderr.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import spacy
from scipy.optimize import minimize, minimize_scalar
from scipy.sparse import csr_matrix
from sklearn.linear_model import LogisticRegression
from spacy.about import __version__ as SPACY_VERSION
from thinc.api import fix_random_seed

from nlp.charngrams import CharNgramVectorizer
from nlp.datacheck import Example, read_jsonl
from nlp.embed import Embedder, EmbeddingCache, Prefix
from nlp.fields import DEFAULT_PATH as FIELDS_PATH
from nlp.fields import load_fields, taxonomy_hash
from nlp.metrics import compute
from nlp.model import DEFAULT_MODEL_DIR, FORMAT_VERSION, META_KEY
from nlp.pipeline import FACTORY, FieldScorer, Heads, log_softmax, pool
from nlp.text import DEFAULT_MAX_CHARS, has_letters, prepare
from nlp.umlauts import UmlautRestorer

NLP_DIR = Path(__file__).resolve().parent
DEFAULT_TRAIN = NLP_DIR / "data" / "train.jsonl"
DEFAULT_DEV = NLP_DIR / "data" / "dev.jsonl"
DEFAULT_CACHE = NLP_DIR / ".cache" / "embeddings.npz"
Log = Callable[[str], None]


@dataclass(frozen=True)
class TrainConfig:
    """Everything that shapes the model besides the data; recorded in the model's meta."""

    seed: int = 0
    prefix: Prefix = "query"
    variant: str = "original"
    max_chars: int = DEFAULT_MAX_CHARS
    ngram_min: int = 2
    ngram_max: int = 6
    mask_places: bool = True  # street names and house numbers hidden from the character head only
    restore_umlauts: bool = True  # "Muell" → "Müll" before embedding (lexicon learnt from the training texts)
    embed_c: float = 10.0
    char_c: float = 10.0
    embed_share: float | None = None  # None: fitted on dev; 1.0 = embedding head only, 0.0 = character head only
    target_precision: float = 0.97
    exit_precision: float | None = 0.995  # None: always compute the embedding


@dataclass
class TrainInputs:
    """Where the training data comes from."""

    train: Path = DEFAULT_TRAIN
    dev: Path = DEFAULT_DEV
    extra: list[Path] = field(default_factory=list)
    fields_path: Path = FIELDS_PATH


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def data_hash(inputs: TrainInputs, config: TrainConfig) -> str:
    """Hash of every file the model learns from (train, extra labels, dev for calibration) and the config."""
    digest = hashlib.sha256()
    for path in [inputs.train, *inputs.extra, inputs.dev]:
        digest.update(path.name.encode() + b"\x00" + path.read_bytes() + b"\x00")
    digest.update(json.dumps(asdict(config), sort_keys=True).encode())
    return digest.hexdigest()[:16]


def _usable(examples: Sequence[Example], max_chars: int) -> tuple[list[str], list[str]]:
    pairs = [(prepare(e.text, max_chars), e.field) for e in examples]
    kept = [(text, key) for text, key in pairs if has_letters(text)]
    return [text for text, _ in kept], [key for _, key in kept]


def _fit_head(matrix: Any, targets: Sequence[str], labels: Sequence[str], c: float, seed: int) -> tuple[Any, Any]:
    model = LogisticRegression(C=c, max_iter=5000, random_state=seed).fit(matrix, list(targets))
    # Fields without any training example get a very low bias, so they can never win.
    weights = np.zeros((matrix.shape[1], len(labels)), dtype=np.float32)
    bias = np.full(len(labels), -30.0, dtype=np.float32)
    classes = list(model.classes_)
    if len(classes) == 2:  # scikit-learn keeps one row for two classes; make it symmetric
        coef, intercept = np.vstack([-model.coef_[0], model.coef_[0]]) / 2, np.array([-1, 1]) * model.intercept_[0] / 2
    else:
        coef, intercept = model.coef_, model.intercept_
    for row, label in enumerate(classes):
        column = list(labels).index(label)
        weights[:, column] = coef[row]
        bias[column] = intercept[row]
    return weights, bias


def _char_matrix(vectorizer: CharNgramVectorizer, texts: Sequence[str]) -> csr_matrix:
    rows = [vectorizer.transform_one(text) for text in texts]
    indptr = np.cumsum([0] + [len(columns) for columns, _ in rows])
    indices = np.concatenate([columns for columns, _ in rows]) if rows else np.zeros(0, np.int64)
    values = np.concatenate([values for _, values in rows]) if rows else np.zeros(0, np.float32)
    return csr_matrix((values, indices, indptr), shape=(len(texts), len(vectorizer.vocabulary)))


def _embed(embedder: Embedder, cache: EmbeddingCache | None, texts: Sequence[str], what: str, log: Log) -> Any:
    parts = []
    step = 256
    started = time.perf_counter()
    for start in range(0, len(texts), step):
        chunk = texts[start : start + step]
        parts.append(cache.embed(embedder, chunk) if cache else embedder.embed_many(chunk))
        done = min(start + step, len(texts))
        log(f"  embedding {what}: {done}/{len(texts)} ({time.perf_counter() - started:.0f} s)")
    return np.vstack(parts) if parts else np.zeros((0, 384), np.float32)


def _calibrate(
    embed_logp: npt.NDArray[np.float32], char_logp: npt.NDArray[np.float32], gold: npt.NDArray[np.int64],
    fixed_share: float | None,
) -> tuple[float, float, float]:
    """The (embed share, temperature) minimising dev log-loss, and that loss.

    Both are fitted as continuous values (share through a logistic, temperature through a log), so a tiny change
    in the embeddings moves them a little instead of flipping between grid points.
    """
    rows = np.arange(len(gold))

    def loss(share: float, temperature: float) -> float:
        probabilities = pool(embed_logp, char_logp, share, temperature)
        return float(-np.mean(np.log(np.maximum(probabilities[rows, gold], 1e-12))))

    if fixed_share is not None:
        fitted = minimize_scalar(lambda log_t: loss(fixed_share, float(np.exp(log_t))), bounds=(-3.0, 3.0),
                                 method="bounded")
        return fixed_share, float(np.exp(fitted.x)), float(fitted.fun)
    result = minimize(
        lambda p: loss(float(1.0 / (1.0 + np.exp(-p[0]))), float(np.exp(np.clip(p[1], -3.0, 3.0)))),
        x0=np.zeros(2), method="Nelder-Mead", options={"xatol": 1e-4, "fatol": 1e-7},
    )
    share = round(float(1.0 / (1.0 + np.exp(-result.x[0]))), 4)
    temperature = float(np.exp(np.clip(result.x[1], -3.0, 3.0)))
    return share, temperature, loss(share, temperature)


def _char_temperature(char_logp: npt.NDArray[np.float32], gold: npt.NDArray[np.int64]) -> float:
    rows = np.arange(len(gold))

    def loss(log_t: float) -> float:
        return float(-np.mean(log_softmax(char_logp / np.exp(log_t))[rows, gold]))

    return float(np.exp(minimize_scalar(loss, bounds=(-3.0, 3.0), method="bounded").x))


def confidence_threshold(top_probability: npt.NDArray[Any], correct: npt.NDArray[Any], target: float) -> float:
    """Lowest top-1 probability t such that dev predictions with probability ≥ t are right ≥ `target` of the time."""
    order = np.argsort(-top_probability, kind="stable")
    hits = np.cumsum(correct[order])
    precision = hits / np.arange(1, len(order) + 1)
    meeting = np.nonzero(precision >= target)[0]
    if len(meeting) == 0:
        return 1.0  # never confident: always offer a choice
    return float(top_probability[order][meeting[-1]])


def train(
    inputs: TrainInputs, output: Path = DEFAULT_MODEL_DIR, config: TrainConfig = TrainConfig(),
    cache_path: Path | None = DEFAULT_CACHE, log: Log = _stderr,
) -> dict[str, Any]:
    """Train, calibrate and write the model to `output`; returns the meta stored with it."""
    started = time.perf_counter()
    fix_random_seed(config.seed)
    fields = load_fields(inputs.fields_path)
    labels = tuple(f.key for f in fields)
    own = read_jsonl(inputs.train, labels)
    examples = list(own)
    for extra in inputs.extra:
        examples += read_jsonl(extra, labels)
    texts, targets = _usable(examples, config.max_chars)
    dev_texts, dev_targets = _usable(read_jsonl(inputs.dev, labels), config.max_chars)
    log(f"training on {len(texts)} examples ({len(inputs.extra)} extra file(s)), calibrating on {len(dev_texts)}")

    log(f"character n-grams {config.ngram_min}-{config.ngram_max}: fitting vocabulary")
    vectorizer = CharNgramVectorizer.fit(
        texts, config.ngram_min, config.ngram_max, mask_places=config.mask_places
    )
    log(f"  {len(vectorizer.vocabulary)} n-grams; fitting the character head")
    char_weights, char_bias = _fit_head(_char_matrix(vectorizer, texts), targets, labels, config.char_c, config.seed)
    # The model stores these weights as float16; calibrate with exactly what will be served.
    char_weights = char_weights.astype(np.float16).astype(np.float32)

    # Learnt from the project's own training file only: the model file must not hold words only a citizen wrote.
    own_texts, _ = _usable(own, config.max_chars)
    restorer = UmlautRestorer.fit(own_texts) if config.restore_umlauts else None
    if restorer:
        log(f"umlaut lexicon: {len(restorer.mapping)} words spelt with umlauts, {len(restorer.genuine)} without")
    embedder = Embedder(prefix=config.prefix, variant=config.variant)
    cache = EmbeddingCache(cache_path) if cache_path else None
    restore = restorer or (lambda text: text)
    train_vectors = _embed(embedder, cache, [restore(t) for t in texts], "training texts", log)
    dev_inputs = [restore(t) for t in dev_texts]
    dev_vectors = _embed(embedder, cache, dev_inputs, "dev texts", log)
    if cache:
        cache.save()
    log("fitting the embedding head")
    embed_weights, embed_bias = _fit_head(train_vectors, targets, labels, config.embed_c, config.seed)

    heads = Heads(labels, embed_weights, embed_bias, char_weights, char_bias, vectorizer, restorer=restorer)
    gold = np.array([labels.index(t) for t in dev_targets], dtype=np.int64)
    dev_char_logp = heads.char_logp(dev_texts)
    share, temperature, dev_loss = _calibrate(heads.embed_logp(dev_vectors), dev_char_logp, gold, config.embed_share)
    heads.embed_share, heads.temperature = share, temperature
    heads.char_temperature = _char_temperature(dev_char_logp, gold)
    if config.exit_precision is not None:
        char_only = heads.char_probabilities(dev_char_logp)
        heads.exit_threshold = max(
            0.5, confidence_threshold(char_only.max(axis=1), char_only.argmax(axis=1) == gold, config.exit_precision)
        )
    dev_rows = {text: row for row, text in enumerate(dev_inputs)}
    dev_probabilities = heads.probabilities(dev_texts, lambda texts: dev_vectors[[dev_rows[t] for t in texts]])
    exited = float(np.mean(heads.char_probabilities(dev_char_logp).max(axis=1) >= (heads.exit_threshold or 2.0)))
    log(
        f"early exit: character head alone when its probability >= {heads.exit_threshold} "
        f"(dev: {exited:.0%} of texts)"
    )
    threshold = confidence_threshold(
        dev_probabilities.max(axis=1), dev_probabilities.argmax(axis=1) == gold, config.target_precision
    )
    dev_metrics = compute(labels, dev_targets, dev_probabilities)
    coverage = float(np.mean(dev_probabilities.max(axis=1) >= threshold)) if len(gold) else 0.0
    log(
        f"calibrated on dev: embed share {share}, temperature {temperature:.3f}, log-loss {dev_loss:.3f}, "
        f"threshold {threshold:.3f} (confident on {coverage:.0%}); dev macro-F1 {dev_metrics.macro_f1:.3f}"
    )

    taxonomy = taxonomy_hash(fields)
    data = data_hash(inputs, config)
    meta: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "version": f"fields-{taxonomy[:8]}-{data[:8]}",
        "taxonomy_hash": taxonomy,
        "data_hash": data,
        "labels": list(labels),
        "spacy_version": SPACY_VERSION,
        "embedder": embedder.key,
        "config": asdict(config),
        "training_files": [p.name for p in [inputs.train, *inputs.extra]],
        "training_examples": len(texts),
        "calibration": {
            "file": inputs.dev.name,
            "embed_share": share,
            "temperature": temperature,
            "log_loss": dev_loss,
            "confident_threshold": threshold,
            "char_temperature": heads.char_temperature,
            "exit_threshold": heads.exit_threshold,
            "exit_share": exited,
            "target_precision": config.target_precision,
            "confident_share": coverage,
            "rule": "lowest top-1 probability at which dev predictions at or above it reach the target precision",
        },
        "dev_metrics": {
            "macro_f1": dev_metrics.macro_f1,
            "accuracy": dev_metrics.accuracy,
            "top2_accuracy": dev_metrics.top2_accuracy,
        },
    }
    nlp = spacy.blank("de")
    scorer = nlp.add_pipe(FACTORY, config={"prefix": config.prefix, "variant": config.variant})
    assert isinstance(scorer, FieldScorer)
    scorer.heads = heads
    nlp.meta["name"] = "stadtdialog_fields"
    nlp.meta["version"] = "1.0.0"
    nlp.meta[META_KEY] = meta
    output.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(output)
    log(f"model {meta['version']} written to {output} in {time.perf_counter() - started:.0f} s")
    return meta
