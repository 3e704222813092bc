"""User-facing texts as data: `handlers/texts/{de,en}.yaml` plus the crisis phrases and reply (`crisis.yaml`).

Nested YAML keys become dotted keys (`menu.surveys`); placeholders use `{name}`. Loading checks that both
languages have the same keys and the same placeholders, so a German edit cannot break the English bot.
The crisis file contributes `crisis.reply` and `crisis.phrases` (the phrase list joined by newlines).
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from surveys.schema import LANGUAGES

DEFAULT_DIRECTORY = Path(__file__).with_name("texts")
CRISIS_FILE = "crisis.yaml"


class TextsError(Exception):
    """A text file is missing or malformed, the languages disagree, or a key/placeholder is unknown."""


class TextCatalog:
    """All texts by language and key; implements `handlers.events.Texts`."""

    def __init__(self, texts: Mapping[str, Mapping[str, str]]) -> None:
        self._texts = {lang: dict(entries) for lang, entries in texts.items()}
        if "de" not in self._texts:
            raise TextsError("the German texts ('de') are required")
        _check_same_shape(self._texts)

    def get(self, key: str, lang: str, **values: Any) -> str:
        """The text `key` in `lang` (German when `lang` is unknown), with `values` filled in."""
        template = self.template(key, lang)
        try:
            return template.format(**values)
        except (KeyError, IndexError) as exc:
            raise TextsError(f"text '{key}' ({lang}) needs the value {exc}") from None

    def template(self, key: str, lang: str) -> str:
        """The unfilled text `key` in `lang` (German when `lang` is unknown)."""
        entries = self._texts.get(lang) or self._texts["de"]
        if key not in entries:
            raise TextsError(f"unknown text key '{key}'")
        return entries[key]

    def keys(self) -> frozenset[str]:
        """Every key (identical in all languages)."""
        return frozenset(self._texts["de"])

    def languages(self) -> tuple[str, ...]:
        return tuple(self._texts)


def load_texts(directory: Path | None = None) -> TextCatalog:
    """Read `de.yaml`, `en.yaml` and `crisis.yaml` from `directory` (default: the package's texts folder)."""
    folder = DEFAULT_DIRECTORY if directory is None else directory
    texts: dict[str, dict[str, str]] = {}
    for lang in LANGUAGES:
        path = folder / f"{lang}.yaml"
        texts[lang] = _flatten(_read(path), "", path)
    crisis_path = folder / CRISIS_FILE
    for key, by_lang in _crisis_texts(_read(crisis_path), crisis_path).items():
        for lang in LANGUAGES:
            if key in texts[lang]:
                raise TextsError(f"{lang}.yaml: key '{key}' belongs in {CRISIS_FILE}")
            texts[lang][key] = by_lang[lang]
    return TextCatalog(texts)


def _read(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise TextsError(f"{path}: cannot read: {exc}") from exc


def _flatten(node: Any, prefix: str, path: Path) -> dict[str, str]:
    if not isinstance(node, dict):
        raise TextsError(f"{path}: '{prefix or '(top level)'}' must be a mapping of keys to texts")
    flat: dict[str, str] = {}
    for name, value in node.items():
        if not isinstance(name, str):
            # YAML reads bare yes/no/on/off keys as booleans; a key must be text.
            raise TextsError(f"{path}: key {name!r} under '{prefix or '(top level)'}' must be text (quote it)")
        key = f"{prefix}{name}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{key}.", path))
        elif isinstance(value, str) and value.strip():
            flat[key] = value.strip()
        else:
            raise TextsError(f"{path}: '{key}' must be a non-empty text")
    return flat


def _crisis_texts(node: Any, path: Path) -> dict[str, dict[str, str]]:
    if not isinstance(node, dict) or set(node) != {"phrases", "reply"}:
        raise TextsError(f"{path}: expected exactly the keys 'phrases' and 'reply'")
    result: dict[str, dict[str, str]] = {"crisis.phrases": {}, "crisis.reply": {}}
    for lang in LANGUAGES:
        phrases = node["phrases"].get(lang) if isinstance(node["phrases"], dict) else None
        if not isinstance(phrases, list) or not phrases or not all(isinstance(p, str) and p.strip() for p in phrases):
            raise TextsError(f"{path}: 'phrases.{lang}' must be a non-empty list of phrases")
        reply = node["reply"].get(lang) if isinstance(node["reply"], dict) else None
        if not isinstance(reply, str) or not reply.strip():
            raise TextsError(f"{path}: 'reply.{lang}' must be a non-empty text")
        result["crisis.phrases"][lang] = "\n".join(p.strip() for p in phrases)
        result["crisis.reply"][lang] = reply.strip()
    return result


def placeholders(template: str) -> frozenset[str]:
    """The `{name}` placeholders of a template; raises TextsError for positional or malformed ones."""
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        raise TextsError(f"malformed placeholder in {template!r}: {exc}") from None
    if any(not name.isidentifier() for name in names):
        raise TextsError(f"placeholders must be named like {{count}}, not {template!r}")
    return frozenset(names)


def _check_same_shape(texts: Mapping[str, Mapping[str, str]]) -> None:
    reference = texts["de"]
    for lang, entries in texts.items():
        if lang == "de":
            continue
        missing = sorted(set(reference) - set(entries))
        extra = sorted(set(entries) - set(reference))
        if missing or extra:
            raise TextsError(f"'{lang}' differs from 'de': missing {missing or 'none'}, extra {extra or 'none'}")
    for key, template in reference.items():
        expected = placeholders(template)
        for lang, entries in texts.items():
            found = placeholders(entries[key])
            if found != expected:
                raise TextsError(
                    f"text '{key}': placeholders in '{lang}' {sorted(found)} differ from 'de' {sorted(expected)}"
                )
