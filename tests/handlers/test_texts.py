"""The text catalog: both languages complete and consistent, and every key the code uses exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import handlers
from handlers.texts import DEFAULT_DIRECTORY, TextCatalog, TextsError, load_texts, placeholders
from tests.handlers.chat import texts

HANDLERS_DIR = Path(handlers.__file__).parent
BOT_DIR = HANDLERS_DIR.parent / "bot"
KEY = re.compile(r"^[a-z_]+(?:\.[a-z_]+)+$")


def keys_in_code(*folders: Path) -> set[str]:
    """Every string literal in the Python files of `folders` (default: handlers/) shaped like a text key."""
    found: set[str] = set()
    for path in (p for folder in folders or (HANDLERS_DIR,) for p in folder.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            value = node.value if isinstance(node, ast.Constant) else None
            if isinstance(value, str) and KEY.match(value) and not value.endswith(".yaml"):
                found.add(value)
    return found


def test_german_and_english_have_the_same_keys_and_placeholders() -> None:
    catalog = load_texts()
    assert set(catalog.languages()) == {"de", "en"}
    for key in sorted(catalog.keys()):
        assert placeholders(catalog.template(key, "de")) == placeholders(catalog.template(key, "en")), key


def test_every_text_key_used_in_code_exists() -> None:
    used = keys_in_code()
    assert len(used) > 50  # the scan found the keys at all
    assert sorted(used - texts().keys()) == []


def test_every_text_in_the_files_is_used() -> None:
    # The runtime (bot/) uses a few texts too, e.g. the apology when handling an event failed.
    assert sorted(texts().keys() - keys_in_code(HANDLERS_DIR, BOT_DIR)) == []


def test_texts_are_filled_in_and_fall_back_to_german() -> None:
    catalog = load_texts()
    assert catalog.get("survey.progress", "de", position=3, total=7) == "Frage 3 von 7"
    assert catalog.get("survey.progress", "en", position=3, total=7) == "Question 3 of 7"
    assert catalog.get("survey.progress", "fr", position=1, total=2) == "Frage 1 von 2"


def test_unknown_key_or_missing_value_raises_texts_error() -> None:
    catalog = load_texts()
    with pytest.raises(TextsError, match="unknown text key"):
        catalog.get("no.such_key", "de")
    with pytest.raises(TextsError, match="needs the value"):
        catalog.get("survey.progress", "de", position=1)


def test_languages_with_different_keys_are_rejected() -> None:
    with pytest.raises(TextsError, match="missing \\['b'\\]"):
        TextCatalog({"de": {"a": "A", "b": "B"}, "en": {"a": "A"}})


def test_languages_with_different_placeholders_are_rejected() -> None:
    with pytest.raises(TextsError, match="placeholders in 'en'"):
        TextCatalog({"de": {"a": "Frage {n} von {total}"}, "en": {"a": "Question {n} of {count}"}})


def test_positional_or_broken_placeholders_are_rejected() -> None:
    with pytest.raises(TextsError):
        TextCatalog({"de": {"a": "Frage {} von {}"}, "en": {"a": "Question {} of {}"}})
    with pytest.raises(TextsError):
        TextCatalog({"de": {"a": "Frage {n"}, "en": {"a": "Question {n"}})


def copy_texts(tmp_path: Path) -> Path:
    for name in ("de.yaml", "en.yaml", "crisis.yaml"):
        (tmp_path / name).write_text((DEFAULT_DIRECTORY / name).read_text(encoding="utf-8"), encoding="utf-8")
    return tmp_path


def test_a_text_missing_in_one_file_names_the_key(tmp_path: Path) -> None:
    folder = copy_texts(tmp_path)
    english = (folder / "en.yaml").read_text(encoding="utf-8")
    (folder / "en.yaml").write_text(english.replace("  not_sure: Not sure\n", ""), encoding="utf-8")
    with pytest.raises(TextsError, match=r"idea\.not_sure"):
        load_texts(folder)


def test_bare_yes_no_keys_are_reported(tmp_path: Path) -> None:
    folder = copy_texts(tmp_path)
    (folder / "en.yaml").write_text("common:\n  no: nope\n", encoding="utf-8")
    with pytest.raises(TextsError, match="must be text"):
        load_texts(folder)


def test_missing_file_or_broken_crisis_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(TextsError, match="cannot read"):
        load_texts(tmp_path)
    folder = copy_texts(tmp_path)
    (folder / "crisis.yaml").write_text("phrases:\n  de: [suizid]\nreply:\n  de: Hilfe\n", encoding="utf-8")
    with pytest.raises(TextsError, match=r"phrases\.en"):
        load_texts(folder)


def test_crisis_reply_names_every_emergency_number() -> None:
    for lang in ("de", "en"):
        reply = texts().get("crisis.reply", lang)
        for number in ("112", "110", "0800 111 0 111", "0800 111 0 222", "116 123"):
            assert number in reply
