"""Classification in the runtime (SQLite and PostgreSQL): scores are computed before the inbox transaction, stored
with the raw event, reach the core and end up in the idea row; a broken classifier never costs an event; a model
for another taxonomy refuses to start."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from bot.app import build_runtime, field_infos
from bot.classify import TextClassifier, classifiable_text, load_classifier
from bot.config import Config, ConfigError, load_config
from bot.runtime import Runtime
from bot.storage.db import Database
from handlers.events import Inbound, InboundKind
from nlp.model import DEFAULT_MODEL_DIR, FieldClassifier
from tests.bot.conftest import LIBRARY, RuntimeFactory
from tests.bot.test_runtime import RecordingChannel, event, press

IDEA = "Der Bus nach Vohwinkel kommt abends nie pünktlich, bitte mehr Fahrten"


@pytest.fixture(scope="module")
def model() -> FieldClassifier:
    return FieldClassifier.load()


class BrokenModel:
    """A classifier that fails on every call (a corrupt model, an out-of-memory error …)."""

    calls = 0

    def classify_many(self, texts: Sequence[str]) -> list[Any]:
        self.calls += 1
        raise RuntimeError(f"boom while reading {texts[0]!r}")


def rows(database: Database, query: str) -> list[dict[str, Any]]:
    with database.engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(text(query))]


def as_json(value: Any) -> Any:
    """JSON columns come back parsed on PostgreSQL and as text from a raw SQLite query."""
    return json.loads(value) if isinstance(value, str) else value


def last_buttons(channel: RecordingChannel, chat: str) -> list[str]:
    return [button.payload for button in channel.to(chat)[-1].all_buttons()]


async def consent(runtime: Runtime, channel: RecordingChannel, chat: str) -> None:
    await runtime.accept([event(chat, "/start")])
    await runtime.wait_idle()
    await runtime.accept([press(chat, last_buttons(channel, chat)[0])])
    await runtime.wait_idle()


async def test_idea_text_is_classified_before_storing_and_the_scores_reach_the_idea_row(
    make_runtime: RuntimeFactory, database: Database, model: FieldClassifier
) -> None:
    channel = RecordingChannel()
    first = make_runtime(channel, model=model)
    await first.start()
    await consent(first, channel, "1")
    await first.stop()

    accepting = make_runtime(channel, model=model)  # not started: the event stays in the inbox for inspection
    await accepting.accept([event("1", f"/idee {IDEA}")])
    [stored] = rows(database, "SELECT payload FROM inbound_events WHERE status = 'pending'")
    scores = as_json(stored["payload"])["classification"]
    assert scores["model_version"] == model.version
    assert max(scores["scores"], key=scores["scores"].get) == "mobilitaet"

    broken = BrokenModel()
    runtime = make_runtime(channel, model=broken)  # a restart uses the stored scores and does not classify again
    await runtime.start()
    await runtime.wait_idle()
    assert broken.calls == 0
    buttons = last_buttons(channel, "1")
    yes = next((b for b in buttons if b.startswith("fc:yes:")), None)
    assert yes is not None, "the core proposes the classifier's field"
    await runtime.accept([press("1", yes)])
    await runtime.wait_idle()

    [idea] = rows(database, "SELECT * FROM ideas")
    assert idea["field"] == "mobilitaet" and as_json(idea["fields"]) == ["mobilitaet"]
    assert idea["proposed_field"] == "mobilitaet" and idea["model_version"] == model.version
    assert idea["confident"] in (True, 1)
    assert set(as_json(idea["scores"])) == {f.key for f in field_infos()}


async def test_short_replies_buttons_and_other_commands_are_not_classified() -> None:
    now = datetime.now(UTC)
    assert classifiable_text(Inbound(InboundKind.TEXT, "t", "1", "1", "a", now, text="ja")) is None
    assert classifiable_text(Inbound(InboundKind.TEXT, "t", "1", "1", "b", now, text="Mehr Bänke")) == "Mehr Bänke"
    assert classifiable_text(Inbound(InboundKind.BUTTON, "t", "1", "1", "c", now, payload="f:umwelt")) is None
    assert classifiable_text(Inbound(InboundKind.COMMAND, "t", "1", "1", "d", now, command="hilfe")) is None
    assert classifiable_text(Inbound(InboundKind.COMMAND, "t", "1", "1", "e", now, command="idee", args="42")) is None
    idea = Inbound(InboundKind.COMMAND, "t", "1", "1", "f", now, command="idea", args="more trees")
    assert classifiable_text(idea) == "more trees"


async def test_texts_of_one_accept_call_are_classified_in_one_model_call(model: FieldClassifier) -> None:
    class CountingModel:
        def __init__(self) -> None:
            self.batches: list[int] = []

        def classify_many(self, texts: Sequence[str]) -> Any:
            self.batches.append(len(texts))
            return model.classify_many(texts)

    counting = CountingModel()
    classifier = TextClassifier(counting)
    try:
        results = await classifier.classify_many(["Mehr Bäume pflanzen", "???", "Radwege ausbauen"])
    finally:
        await classifier.close()
    assert counting.batches == [3]
    assert results[1] is None and results[0] is not None and results[0].best == "umwelt"


async def test_a_broken_classifier_still_stores_and_processes_the_event(
    make_runtime: RuntimeFactory, database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    channel = RecordingChannel()
    broken = BrokenModel()
    runtime = make_runtime(channel, model=broken)
    await runtime.start()
    await consent(runtime, channel, "2")
    await runtime.accept([event("2", f"/idee {IDEA}")])
    await runtime.wait_idle()
    assert broken.calls >= 1
    assert IDEA not in caplog.text, "logs never contain the citizen's text"
    # without scores the citizen chooses from every field
    umwelt = next((b for b in last_buttons(channel, "2") if b.startswith("f:umwelt:")), None)
    assert umwelt is not None
    await runtime.accept([press("2", umwelt)])
    await runtime.wait_idle()
    [idea] = rows(database, "SELECT field, scores, model_version FROM ideas")
    assert idea == {"field": "umwelt", "scores": None, "model_version": None}


def test_a_model_for_another_taxonomy_refuses_to_start_with_the_retrain_hint(tmp_path: Path, config: Config) -> None:
    model_dir = tmp_path / "model"
    shutil.copytree(DEFAULT_MODEL_DIR, model_dir)
    meta_file = model_dir / "meta.json"
    meta = json.loads(meta_file.read_text(encoding="utf-8"))
    meta["stadtdialog"]["taxonomy_hash"] = "0" * 16
    meta_file.write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(ConfigError, match="retrain with `make model`"):
        load_classifier(config, model_dir)


def test_a_missing_model_refuses_to_start_with_the_build_hint(tmp_path: Path, config: Config) -> None:
    with pytest.raises(ConfigError, match="make model"):
        load_classifier(config, tmp_path / "nothing-here")


def test_classifier_off_starts_without_a_model(tmp_path: Path, database_url: str) -> None:
    config = load_config(
        {
            "STADTDIALOG_DATABASE_URL": database_url,
            "STADTDIALOG_PSEUDONYM_SECRET": "test-secret-0123456789",
            "STADTDIALOG_SURVEY_DIR": str(LIBRARY),
            "STADTDIALOG_CLASSIFIER": "off",
        },
        cwd=tmp_path,
    )
    assert load_classifier(config, tmp_path / "nothing-here") is None
    runtime = build_runtime(config)
    try:
        assert runtime.classifier is None
    finally:
        runtime.db.dispose()


def test_build_runtime_loads_the_committed_classifier(config: Config) -> None:
    runtime = build_runtime(config)
    try:
        assert runtime.classifier is not None
    finally:
        runtime.db.dispose()


def test_an_unknown_classifier_setting_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="STADTDIALOG_CLASSIFIER"):
        load_config({"STADTDIALOG_CLASSIFIER": "maybe", "STADTDIALOG_PSEUDONYM_SECRET": "x" * 20}, cwd=tmp_path)


def test_run_command_refuses_to_start_with_an_outdated_model(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import nlp.model
    from bot.cli import main

    model_dir = tmp_path / "model"
    shutil.copytree(DEFAULT_MODEL_DIR, model_dir)
    meta = json.loads((model_dir / "meta.json").read_text(encoding="utf-8"))
    meta["stadtdialog"]["taxonomy_hash"] = "f" * 16
    (model_dir / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    monkeypatch.setattr(nlp.model, "DEFAULT_MODEL_DIR", model_dir)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STADTDIALOG_DATABASE_URL", database_url)
    monkeypatch.setenv("STADTDIALOG_PSEUDONYM_SECRET", "test-secret-0123456789")
    assert main(["run"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("Cannot start: STADTDIALOG_CLASSIFIER") and "retrain with `make model`" in error
