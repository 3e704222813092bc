"""The `nlp` command line contracts other parts rely on: classify (JSON lines) and evaluate --json."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from nlp.cli import main
from nlp.fields import load_fields

ROOT = Path(__file__).resolve().parents[2]
KEYS = {f.key for f in load_fields()}


def _cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nlp.cli", *args], input=stdin, capture_output=True, text=True, cwd=ROOT, timeout=120
    )


def test_classify_writes_exactly_one_json_line_per_input_line() -> None:
    lines = ["Der Bus kommt nie pünktlich", "", "🙈🙈", "Termin im Bürgerbüro?", "   ", "12 34"]
    done = _cli("classify", stdin="\n".join(lines) + "\n")
    assert done.returncode == 0, done.stderr
    out = done.stdout.splitlines()
    assert len(out) == len(lines)
    results = [json.loads(line) for line in out]
    for result in results:
        assert set(result) == {"field", "confident", "scores"}
        assert set(result["scores"]) == KEYS
        assert isinstance(result["confident"], bool)
    assert [r["field"] is None for r in results] == [False, True, True, False, True, True]
    assert results[0]["field"] == "mobilitaet"


def test_classify_survives_bytes_that_are_not_utf8() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "nlp.cli", "classify"], input=b"Bus \xff\xfe kaputt\n\xc3\n", capture_output=True,
        cwd=ROOT, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    results = [json.loads(line) for line in done.stdout.decode().splitlines()]
    assert len(results) == 2 and results[0]["field"] in KEYS and results[1]["field"] is None


def test_classify_answers_each_line_before_the_next_arrives() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "nlp.cli", "classify"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, text=True, cwd=ROOT,
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        for text in ("Schlagloch in der Straße", "Mehr Bäume bitte"):
            process.stdin.write(text + "\n")
            process.stdin.flush()
            answer = json.loads(process.stdout.readline())  # would hang if the line were buffered
            assert answer["field"] in KEYS
    finally:
        process.stdin.close()
        assert process.wait(timeout=60) == 0


def test_evaluate_json_reports_classifier_and_baseline_side_by_side(tmp_path: Path) -> None:
    rows = [json.loads(line) for line in (ROOT / "nlp" / "data" / "test.jsonl").read_text("utf-8").splitlines()]
    sample = tmp_path / "sample.jsonl"
    sample.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows[::20]), encoding="utf-8")
    train_rows = [json.loads(line) for line in (ROOT / "nlp" / "data" / "train.jsonl").read_text("utf-8").splitlines()]
    small_train = tmp_path / "train.jsonl"  # keeps the baseline's training short in this test
    small_train.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in train_rows[::10]), "utf-8")
    done = _cli("evaluate", str(sample), "--json", "--train", str(small_train))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    for side in ("model", "baseline"):
        figures = report[side]
        assert set(figures["per_field"]) == KEYS
        assert set(figures["per_field"]["umwelt"]) == {"precision", "recall", "f1", "support"}
        for name in ("macro_f1", "accuracy", "top2_accuracy"):
            assert 0.0 <= figures[name] <= 1.0
        assert len(figures["confusion"]) == len(KEYS) and sum(map(sum, figures["confusion"])) == len(rows[::20])
    assert report["count"] == len(rows[::20])
    assert report["model"]["accuracy"] > 0.7


def test_evaluate_prints_a_readable_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sample = tmp_path / "sample.jsonl"
    sample.write_text(
        '{"text": "Der Bus kommt nie", "field": "mobilitaet"}\n{"text": "Mehr Bäume", "field": "umwelt"}\n', "utf-8"
    )
    assert main(["evaluate", str(sample), "--train", str(sample)]) == 0
    out = capsys.readouterr().out
    assert "macro-F1" in out and "top-2 accuracy" in out and "confusion" in out and "baseline" in out


def test_missing_model_is_one_clear_error_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["classify", "--model", str(tmp_path / "none")]) == 2
    assert "make model" in capsys.readouterr().err


def test_train_if_stale_keeps_an_up_to_date_model(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--if-stale"]) == 0
    assert "up to date" in capsys.readouterr().err


def test_train_if_stale_builds_a_missing_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [{"text": "Der Bus kommt nie", "field": "mobilitaet"}, {"text": "Mehr Bäume pflanzen", "field": "umwelt"},
            {"text": "Termin im Amt", "field": "verwaltung"}]
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    output = tmp_path / "model"
    args = ["train", "--if-stale", "--train", str(data), "--dev", str(data), "--output", str(output), "--no-cache"]
    assert main(args) == 0
    assert (output / "meta.json").is_file()
    assert main(args) == 0
    assert "up to date" in capsys.readouterr().err
