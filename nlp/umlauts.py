"""Put umlauts back into text typed without them ("Muelltonne" → "Mülltonne") before it is embedded.

Many citizens type on keyboards or phones without umlauts. The character head does not care (it folds every
text to that spelling), but the sentence encoder's word pieces do: "Muell" and "Strasse" are not the pieces it
learned German with. Measured on the dev texts that contain umlauts, typed again without them: e5 alone drops
from 0.936 to 0.912 macro-F1; with restoration (training texts restored too) 0.930 / 0.932
(`python -m nlp.candidates`).

The lexicon is learnt from the training texts, so another city's data brings its own words: every word spelt
with ä/ö/ü/ß maps its folded form back ("muell" → "müll"); words without umlauts written by the same writers
(texts that do use umlauts elsewhere) are known to be genuine and never changed ("Busse", "Masse", "neue").
Only texts without a single umlaut are touched: whoever types one umlaut wrote "Masse" on purpose.
Compounds are restored piece by piece around the longest known word inside them ("Sperrmuellabholung").
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from nlp.text import fold

_WORD = re.compile(r"[A-Za-zÄÖÜäöüß]+")
_UMLAUT = re.compile("[äöüÄÖÜßẞ]")
_FOLDED_PAIR = re.compile("ae|oe|ue|ss")
# Shorter keys would match inside too many unrelated words; these short ones are whole words only.
_MIN_PIECE = 4
_MAX_WORD = 40  # longer "words" are not German compounds but pasted junk; left alone


@dataclass(frozen=True)
class UmlautRestorer:
    """Maps folded spellings back to umlaut spellings; `restorer(text)` returns the restored text."""

    mapping: dict[str, str]  # folded lower-case word → lower-case word with umlauts
    genuine: frozenset[str]  # lower-case words seen without umlauts in texts that use umlauts

    @classmethod
    def fit(cls, texts: Iterable[str]) -> UmlautRestorer:
        """Learn the lexicon from texts (training data); deterministic for the same texts."""
        spelled: defaultdict[str, Counter[str]] = defaultdict(Counter)
        genuine: set[str] = set()
        for text in texts:
            if not _UMLAUT.search(text):
                continue  # a text without umlauts says nothing about which spelling is meant
            for word in _WORD.findall(text):
                lower = word.lower()
                if _UMLAUT.search(lower):
                    spelled[fold(lower)][lower] += 1
                else:
                    genuine.add(lower)
        # Most frequent spelling wins; ties go to the alphabetically first, so the result never depends on order.
        mapping = {
            folded: min(counts, key=lambda word: (-counts[word], word))
            for folded, counts in spelled.items()
            if folded not in genuine
        }
        return cls(mapping, frozenset(genuine))

    @cached_property
    def _longest(self) -> int:
        return max((len(key) for key in self.mapping), default=0)

    def _pieces(self, lower: str, longest: int) -> str:
        # The longest known folded word anywhere inside, then the parts on either side the same way.
        for size in range(min(len(lower), longest), _MIN_PIECE - 1, -1):
            for start in range(len(lower) - size + 1):
                piece = lower[start : start + size]
                if piece in self.mapping:
                    return (
                        self._pieces(lower[:start], longest) + self.mapping[piece]
                        + self._pieces(lower[start + size :], longest)
                    )
        return lower

    def _word(self, word: str, longest: int) -> str:
        lower = word.lower()
        if lower in self.genuine or len(lower) > _MAX_WORD or not _FOLDED_PAIR.search(lower):
            return word
        restored = self.mapping.get(lower) or self._pieces(lower, longest)
        if restored == lower:
            return word
        if word.isupper() and len(word) > 1:
            return restored.upper()
        return restored[0].upper() + restored[1:] if word[0].isupper() else restored

    def __call__(self, text: str) -> str:
        if not self.mapping or _UMLAUT.search(text):
            return text
        longest = self._longest
        return _WORD.sub(lambda match: self._word(match.group(0), longest), text)

    def to_json(self) -> str:
        """The lexicon as JSON (sorted, so the same lexicon always gives the same file)."""
        return json.dumps(
            {"mapping": dict(sorted(self.mapping.items())), "genuine": sorted(self.genuine)}, ensure_ascii=False
        )

    @classmethod
    def from_json(cls, data: str) -> UmlautRestorer:
        """Read what `to_json` wrote."""
        loaded = json.loads(data)
        return cls({str(k): str(v) for k, v in loaded["mapping"].items()}, frozenset(map(str, loaded["genuine"])))

    @classmethod
    def from_file(cls, path: Path) -> UmlautRestorer:
        """Read a lexicon file written from `to_json`."""
        return cls.from_json(path.read_text(encoding="utf-8"))
