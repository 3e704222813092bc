"""The report's texts (texts.yaml beside this module: German and English)."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml

LANGUAGES = ("de", "en")


@cache
def _load() -> dict[str, dict[str, str]]:
    raw: Any = yaml.safe_load(resources.files(__package__).joinpath("texts.yaml").read_text(encoding="utf-8"))
    return {lang: {str(key): str(value) for key, value in raw[lang].items()} for lang in LANGUAGES}


class Texts:
    """The texts of one language; `t(key, **values)` fills placeholders."""

    def __init__(self, lang: str) -> None:
        if lang not in LANGUAGES:
            raise ValueError(f"report language must be one of {', '.join(LANGUAGES)}, not {lang!r}")
        self.lang = lang
        self._texts = _load()[lang]

    def __call__(self, key: str, **values: object) -> str:
        text = self._texts[key]
        return text.format(**values) if values else text
