"""`stadtdialog nlp themes FILE`: themes of a plain text file (one text per line), and the embedding it needs.

The texts are embedded the way the classifier embeds them (prepared, umlauts restored, e5 "query:" prefix), so
vectors stored by the bot and vectors made here are alike. By default each line's strategy field comes from the
installed classifier, reusing those same embeddings (the field costs no second e5 pass); `--one-field` treats
all lines as one field named `all`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from nlp.embed import FloatArray
from nlp.model import DEFAULT_MODEL_DIR, FieldClassifier, ModelMismatchError
from nlp.text import has_letters, prepare
from nlp.themes import Theme, ThemeInput, ThemeRegistry, ThemeResult, find_themes

ONE_FIELD = "all"


@dataclass(frozen=True)
class Embedded:
    """Vectors (n, 384) and, when asked for, the classifier's field per text."""

    vectors: FloatArray
    fields: tuple[str, ...] | None


def embed_texts(texts: Sequence[str], classify: bool, model: Path = DEFAULT_MODEL_DIR) -> Embedded:
    """Embed like the classifier does; with `classify`, also its top field per text from the same vectors."""
    classifier = FieldClassifier.load(model)
    scorer = classifier.scorer
    heads = scorer.heads
    if heads is None:
        raise ModelMismatchError(f"the classifier in {model} has no trained weights: retrain it")
    prepared = [prepare(text, classifier.max_chars) for text in texts]
    inputs = heads.embedding_input(prepared)
    vectors = scorer.embedder.embed_many(inputs)
    if not classify:
        return Embedded(vectors, None)
    by_input = {text: vectors[i] for i, text in enumerate(inputs)}

    def stored(batch: Sequence[str]) -> FloatArray:
        return np.stack([by_input[text] for text in batch])

    probabilities = heads.probabilities(prepared, stored)
    return Embedded(vectors, tuple(heads.labels[int(np.argmax(row))] for row in probabilities))


def themes_of_lines(
    lines: Sequence[str], embedded: Embedded, registry: ThemeRegistry | None, min_size: int, keyword_min_texts: int
) -> ThemeResult:
    """Themes of the lines (every line may be quoted: the file's owner chose to give it to us)."""
    items = [
        ThemeInput(text=line, vector=embedded.vectors[i], field=embedded.fields[i] if embedded.fields else ONE_FIELD,
                   quotable=True)
        for i, line in enumerate(lines)
    ]
    return find_themes(items, registry=registry, min_size=min_size, keyword_min_texts=keyword_min_texts)


def theme_json(theme: Theme, lines: Sequence[str], numbers: Sequence[int]) -> dict[str, Any]:
    """One theme as the CLI prints it: member and representative line numbers (from 1) and quotes."""
    return {
        "id": theme.id, "field": theme.field, "size": theme.size, "keywords": list(theme.keywords),
        "lines": [numbers[m] for m in theme.members],
        "representatives": [{"line": numbers[r], "text": lines[r]} for r in theme.representatives],
    }


def run(path: Path, sink: TextIO, *, as_json: bool, one_field: bool, registry_path: Path | None, min_size: int,
        keyword_min_texts: int, model: Path = DEFAULT_MODEL_DIR) -> int:
    """Read FILE, print its themes (one JSON line each with --json, else a readable list); update the registry."""
    raw = path.read_text(encoding="utf-8", errors="replace").splitlines()
    numbered = [(number, line.strip()) for number, line in enumerate(raw, start=1) if has_letters(line)]
    numbers = [number for number, _ in numbered]
    lines = [line for _, line in numbered]
    registry = None
    if registry_path is not None and registry_path.is_file():
        registry = ThemeRegistry.from_json(registry_path.read_text(encoding="utf-8"))
    result = themes_of_lines(lines, embed_texts(lines, not one_field, model), registry, min_size, keyword_min_texts)
    for theme in result.themes:
        data = theme_json(theme, lines, numbers)
        if as_json:
            sink.write(json.dumps(data, ensure_ascii=False) + "\n")
            continue
        sink.write(f"{data['id']}  {theme.field}  {theme.size} texts  keywords: {', '.join(theme.keywords) or '-'}\n")
        sink.write(f"  lines: {', '.join(map(str, data['lines']))}\n")
        for quote in data["representatives"]:
            sink.write(f"  {quote['line']}: {quote['text']}\n")
    if not as_json:
        unthemed = sum(1 for theme_id in result.assignments if theme_id is None)
        sink.write(f"{len(result.themes)} themes; {unthemed} of {len(lines)} texts in no theme\n")
    if registry_path is not None:
        registry_path.write_text(result.registry.to_json() + "\n", encoding="utf-8")
    return 0
