"""`stadtdialog nlp similar --corpus FILE`: the bot's similar-idea search (`MatchIndex.search`) over a text file.

Corpus line N (from 1) is stored as idea id "N"; blank lines and lines without letters are skipped but keep
their numbers. Each stdin line gets exactly one JSON line: `{"matches": [{"line": N, "score": S}, …],
"duplicate": bool}` — matches above the threshold, best first, at most three; `duplicate` is true when there is
at least one (`MatchIndex.is_duplicate`). A query without letters gets no matches.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TextIO

from nlp.embed import Embedder
from nlp.similar import MatchIndex, MatchParams, default_restorer, embedding_text, text_keys
from nlp.text import has_letters

SHOWN = 3  # what the bot shows at most


def similar_stream(corpus: Path, params_path: Path, source: TextIO, sink: TextIO) -> int:
    """Index the corpus, then answer every line of `source` on `sink`, flushed line by line."""
    params = MatchParams.load(params_path)
    lines = corpus.read_text(encoding="utf-8", errors="replace").splitlines()
    stored = [(number, text) for number, text in enumerate(lines, start=1) if has_letters(text)]
    restorer = default_restorer()
    embedder = Embedder(prefix="passage" if params.prefix == "passage" else "query")
    vectors = embedder.embed_many([embedding_text(text, restorer) for _, text in stored])
    index = MatchIndex.build(
        [str(number) for number, _ in stored], vectors, [text_keys(text) for _, text in stored], params
    )
    for line in source:
        query = line.rstrip("\n")
        matches = []
        if has_letters(query):
            matches = index.search(query, embedder.embed_one(embedding_text(query, restorer)), limit=SHOWN)
        result = {"matches": [{"line": int(m.id), "score": m.score} for m in matches], "duplicate": bool(matches)}
        sink.write(json.dumps(result) + "\n")
        sink.flush()
    return 0
