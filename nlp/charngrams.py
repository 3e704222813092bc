"""Character n-gram TF-IDF features (word-bounded), fitted and applied without scikit-learn at run time.

Character n-grams make the classifier robust to compounds ("Radwegbenutzungspflicht"), typos and umlaut
spellings; the vocabulary and IDF weights are plain data saved next to the model.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from nlp.text import fold, mask_places

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]


def word_ngrams(text: str, min_n: int, max_n: int) -> Counter[str]:
    """Counts of the n-grams of every space-padded word of the folded text (like scikit-learn's `char_wb`)."""
    counts: Counter[str] = Counter()
    for word in fold(text).split():
        padded = f" {word} "
        length = len(padded)
        for n in range(min_n, max_n + 1):
            if length <= n:
                # A word shorter than n contributes itself once, padded.
                counts[padded] += 1
                break
            counts.update(padded[i : i + n] for i in range(length - n + 1))
    return counts


@dataclass(frozen=True)
class CharNgramVectorizer:
    """A fitted vocabulary with IDF weights; turns a text into an L2-normalised sublinear TF-IDF vector."""

    min_n: int
    max_n: int
    vocabulary: dict[str, int]
    idf: FloatArray
    # Street names and house numbers replaced by a placeholder first (`nlp.text.mask_places`).
    mask_places: bool = False

    def _ngrams(self, text: str) -> Counter[str]:
        return word_ngrams(mask_places(text) if self.mask_places else text, self.min_n, self.max_n)

    @classmethod
    def fit(
        cls, texts: Sequence[str], min_n: int = 2, max_n: int = 6, min_df: int = 1, mask_places: bool = False
    ) -> CharNgramVectorizer:
        """Learn the n-grams of `texts` (those in at least `min_df` texts) and their smoothed IDF."""
        unfitted = cls(min_n, max_n, {}, np.zeros(0, dtype=np.float32), mask_places)
        document_frequency: Counter[str] = Counter()
        for text in texts:
            document_frequency.update(unfitted._ngrams(text).keys())
        kept = sorted(gram for gram, df in document_frequency.items() if df >= min_df)
        total = len(texts)
        idf = np.array([math.log((1 + total) / (1 + document_frequency[g])) + 1.0 for g in kept], dtype=np.float32)
        return cls(min_n, max_n, {gram: index for index, gram in enumerate(kept)}, idf, mask_places)

    @classmethod
    def from_data(
        cls, min_n: int, max_n: int, grams: Iterable[str], idf: FloatArray, mask_places: bool = False
    ) -> CharNgramVectorizer:
        """Rebuild a fitted vectorizer from its saved n-gram list and IDF array."""
        vocabulary = {gram: index for index, gram in enumerate(grams)}
        if len(vocabulary) != len(idf):
            raise ValueError(f"n-gram list ({len(vocabulary)}) and IDF weights ({len(idf)}) differ in length")
        return cls(min_n, max_n, vocabulary, idf.astype(np.float32), mask_places)

    @property
    def grams(self) -> list[str]:
        """The vocabulary in index order (what `from_data` takes back)."""
        return sorted(self.vocabulary, key=self.vocabulary.__getitem__)

    def transform_one(self, text: str) -> tuple[IntArray, FloatArray]:
        """Sparse vector of one text as (column indices, values); unknown n-grams are ignored."""
        indices: list[int] = []
        tfs: list[float] = []
        for gram, count in self._ngrams(text).items():
            index = self.vocabulary.get(gram)
            if index is not None:
                indices.append(index)
                tfs.append(1.0 + math.log(count))
        columns = np.array(indices, dtype=np.int64)
        values = np.array(tfs, dtype=np.float32) * self.idf[columns]
        norm = float(np.linalg.norm(values))
        if norm > 0.0:
            values /= norm
        return columns, values

    def scores(self, text: str, weights: FloatArray) -> FloatArray:
        """The product of the text's vector with a (vocabulary × labels) weight matrix."""
        columns, values = self.transform_one(text)
        return values @ weights[columns] if len(columns) else np.zeros(weights.shape[1], dtype=np.float32)
