"""The strategy-field taxonomy (`nlp/fields.yaml`): which fields exist, their names and descriptions."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DEFAULT_PATH = Path(__file__).with_name("fields.yaml")
KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,31}$")


class TaxonomyError(Exception):
    """The taxonomy file is missing or malformed; the message names file and entry."""


@dataclass(frozen=True)
class StrategyField:
    """One strategy field (Handlungsfeld)."""

    key: str
    name_de: str
    name_en: str
    description_de: str
    description_en: str

    def name(self, lang: str) -> str:
        """The display name in `lang` (German fallback)."""
        return self.name_en if lang == "en" else self.name_de


def _localized(entry: dict[str, Any], key: str, where: str) -> tuple[str, str]:
    value = entry.get(key)
    if isinstance(value, str):
        return value, value
    if not isinstance(value, dict) or not isinstance(value.get("de"), str) or not value["de"].strip():
        raise TaxonomyError(f"{where}: '{key}' needs a German text ('de')")
    english = value.get("en")
    return value["de"].strip(), (english.strip() if isinstance(english, str) and english.strip() else value["de"])


def load_fields(path: Path = DEFAULT_PATH) -> tuple[StrategyField, ...]:
    """Read and validate the taxonomy; raises TaxonomyError naming the problem."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise TaxonomyError(f"{path}: cannot read: {exc}") from exc
    entries = data.get("fields") if isinstance(data, dict) else None
    if not isinstance(entries, list) or len(entries) < 2:
        raise TaxonomyError(f"{path}: expected 'fields:' with at least two entries")
    result: list[StrategyField] = []
    for index, entry in enumerate(entries):
        where = f"{path.name}: fields[{index}]"
        if not isinstance(entry, dict):
            raise TaxonomyError(f"{where}: expected a mapping")
        key = entry.get("key")
        if not isinstance(key, str) or not KEY_PATTERN.match(key):
            raise TaxonomyError(f"{where}: 'key' must match {KEY_PATTERN.pattern}")
        if any(f.key == key for f in result):
            raise TaxonomyError(f"{where}: key '{key}' is used twice")
        name_de, name_en = _localized(entry, "name", where)
        desc_de, desc_en = _localized(entry, "description", where)
        result.append(StrategyField(key, name_de, name_en, desc_de, desc_en))
    return tuple(result)


def taxonomy_hash(fields: tuple[StrategyField, ...]) -> str:
    """A hash of the keys and descriptions a classifier is trained on (names may change freely)."""
    canonical = json.dumps([[f.key, f.description_de, f.description_en] for f in fields], ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]
