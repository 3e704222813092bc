"""Command line of the NLP part: `classify`, `evaluate FILE`, `train`, `similar`, `themes FILE` (wired as
`stadtdialog nlp …`).

`python -m nlp.cli classify` reads one text per line on stdin and writes exactly one JSON line per input line;
`similar --corpus FILE` does the same for similar-idea searches against the corpus lines.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from nlp.datacheck import DataError
from nlp.fields import TaxonomyError
from nlp.model import DEFAULT_MODEL_DIR, FieldClassifier, ModelError, check_compatible, read_meta
from nlp.similar import DEFAULT_PARAMS, MatcherError
from nlp.themes import ThemeError

if TYPE_CHECKING:
    from nlp.train import TrainInputs


def _parser(elsewhere: Mapping[str, str] | None = None) -> argparse.ArgumentParser:
    """The subcommands; `elsewhere` (name → help) lists commands the caller handles itself, for `--help` only."""
    parser = argparse.ArgumentParser(prog="stadtdialog nlp", description="Field classifier and idea matcher")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, description in (elsewhere or {}).items():
        commands.add_parser(name, help=description)
    classify = commands.add_parser("classify", help="classify one text per stdin line, one JSON line out each")
    classify.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR, help="model directory")
    evaluate = commands.add_parser("evaluate", help="figures on a labelled JSONL file, next to the baseline")
    evaluate.add_argument("file", type=Path, help="JSONL with 'text' and 'field'")
    evaluate.add_argument("--json", action="store_true", help="machine-readable output")
    evaluate.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR, help="model directory")
    evaluate.add_argument("--train", type=Path, default=None, help="training data of the baseline")
    evaluate.add_argument("--include-labels", type=Path, action="append", default=[], help="extra baseline data")
    train = commands.add_parser("train", help="train the classifier and write the model directory")
    train.add_argument("--include-labels", type=Path, action="append", default=[], help="extra labelled JSONL")
    train.add_argument("--output", type=Path, default=DEFAULT_MODEL_DIR, help="model directory to write")
    train.add_argument("--train", type=Path, default=None, help="training data (default nlp/data/train.jsonl)")
    train.add_argument("--dev", type=Path, default=None, help="calibration data (default nlp/data/dev.jsonl)")
    train.add_argument("--no-cache", action="store_true", help="do not read or write the embedding cache")
    train.add_argument("--if-stale", action="store_true", help="only train when the model is missing or out of date")
    themes = commands.add_parser("themes", help="themes of a text file (one text per line): lines, keywords, quotes")
    themes.add_argument("file", type=Path, help="UTF-8 text file, one text per line")
    themes.add_argument("--json", action="store_true", help="one JSON line per theme")
    themes.add_argument("--one-field", action="store_true", help="all lines one field (default: the classifier's)")
    themes.add_argument("--registry", type=Path, default=None, help="theme registry JSON to read and update")
    themes.add_argument("--min-size", type=int, default=3, help="smallest theme (texts)")
    themes.add_argument("--keyword-min-texts", type=int, default=3, help="a keyword occurs in at least this many")
    themes.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR, help="model directory (embedder, fields)")
    similar = commands.add_parser(
        "similar", help="per stdin line, the corpus lines proposing the same thing (one JSON line out each)"
    )
    similar.add_argument("--corpus", type=Path, required=True, help="stored ideas, one text per line")
    similar.add_argument("--params", type=Path, default=DEFAULT_PARAMS, help="matcher parameter file")
    return parser


def classify_stream(classifier: FieldClassifier, source: TextIO, sink: TextIO) -> int:
    """One JSON line per input line, flushed at once so a caller can talk to us line by line."""
    for line in source:
        result = classifier.classify(line.rstrip("\n"))
        sink.write(json.dumps(result.to_json(), ensure_ascii=False) + "\n")
        sink.flush()
    return 0


def _up_to_date(output: Path, inputs: TrainInputs) -> bool:
    """The model exists, fits taxonomy and spaCy, and was trained on exactly these files and the default config."""
    from nlp.train import TrainConfig, data_hash

    try:
        meta = read_meta(output)
        check_compatible(meta, inputs.fields_path)
    except ModelError:
        return False
    return bool(meta.get("data_hash") == data_hash(inputs, TrainConfig()))


def _utf8_lines(source: TextIO) -> TextIO:
    # Bytes that are not UTF-8 must not end the stream: they become U+FFFD and the line is still answered.
    return io.TextIOWrapper(source.buffer, encoding="utf-8", errors="replace", newline=None)


def _run(args: argparse.Namespace) -> int:
    if args.command == "similar":
        from nlp.similarcli import similar_stream

        return similar_stream(args.corpus, args.params, _utf8_lines(sys.stdin), sys.stdout)
    if args.command == "train":
        from nlp.train import DEFAULT_CACHE, DEFAULT_DEV, DEFAULT_TRAIN, TrainInputs, train

        inputs = TrainInputs(train=args.train or DEFAULT_TRAIN, dev=args.dev or DEFAULT_DEV, extra=args.include_labels)
        if args.if_stale and _up_to_date(args.output, inputs):
            print(f"model in {args.output} is up to date", file=sys.stderr)
            return 0
        train(inputs, output=args.output, cache_path=None if args.no_cache else DEFAULT_CACHE)
        return 0
    if args.command == "themes":
        from nlp.themes_cli import run

        return run(args.file, sys.stdout, as_json=args.json, one_field=args.one_field, registry_path=args.registry,
                   min_size=args.min_size, keyword_min_texts=args.keyword_min_texts, model=args.model)
    classifier = FieldClassifier.load(args.model)
    if args.command == "classify":
        return classify_stream(classifier, _utf8_lines(sys.stdin), sys.stdout)
    from nlp.evaluate import evaluate, format_report
    from nlp.train import DEFAULT_TRAIN

    report = evaluate(classifier, args.file, args.train or DEFAULT_TRAIN, args.include_labels)
    print(json.dumps(report, ensure_ascii=False) if args.json else format_report(report), flush=True)
    return 0


def main(argv: Sequence[str], elsewhere: Mapping[str, str] | None = None) -> int:
    """Run one subcommand; errors are one line on stderr and exit code 2, never a traceback.

    `elsewhere` names subcommands the caller runs itself (`stadtdialog nlp export-labels` needs the database,
    which this package does not import): they are listed in `--help`, and never reach this function.
    """
    parser = _parser(elsewhere)
    args = parser.parse_args(list(argv))
    if args.command in (elsewhere or {}):
        parser.error(f"{args.command} is not run by this entry point")
    try:
        return _run(args)
    except (ModelError, TaxonomyError, DataError, ThemeError, MatcherError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
