"""Local timing check of the writers: 50,000 rows × ~60 columns per format, one process per format.

Run: PYTHONPATH=$PWD python -m tests.analytics_writers.perf_writers [ROWS]
Prints one JSON line per format: seconds, peak RSS (MB) of that process, file size (MB).
"""

from __future__ import annotations

import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.analytics.model import Codebook, Row, Status, ValueLabel, Variable, VarKind, VarType
from bot.analytics.writers import FORMATS, write_table
from tests.analytics_writers.table import BERLIN

FIELDS = ("mobilitaet", "umwelt", "digital", "bildung", "wirtschaft", "kultur")
STATUSES = (Status.ANSWERED, Status.ANSWERED, Status.ANSWERED, Status.SKIPPED, Status.NOT_SHOWN, Status.NOT_REACHED)


def _codebook() -> Codebook:
    variables: list[Variable] = [
        Variable("respondent", VarKind.META, VarType.TEXT, "Person", "Respondent"),
        Variable("response", VarKind.META, VarType.TEXT, "Antwort", "Response"),
        Variable("version", VarKind.META, VarType.INTEGER, "Version", "Version"),
        Variable("campaign", VarKind.META, VarType.TEXT, "Kampagne", "Campaign"),
        Variable("channel", VarKind.META, VarType.TEXT, "Kanal", "Channel"),
        Variable("completed", VarKind.META, VarType.INTEGER, "Abgeschlossen", "Completed"),
        Variable("started_at", VarKind.META, VarType.DATETIME, "Begonnen", "Started"),
        Variable("finished_at", VarKind.META, VarType.DATETIME, "Beendet", "Finished"),
    ]
    labels = tuple(ValueLabel(code, f"Option {code} ä", f"option {code}") for code in range(1, 6))
    for q in range(15):  # 12 survey questions and 3 follow-ups
        qid = f"q{q}"
        follow_up = q >= 12
        status = Variable(
            f"{qid}_status",
            VarKind.STATUS,
            VarType.STATUS,
            f"Status {qid}",
            f"Status {qid}",
            question_id=qid,
            follow_up=follow_up,
        )
        if q in (3, 7):  # multiple choice, 5 options
            variables += [
                Variable(
                    f"{qid}_o{o}",
                    VarKind.OPTION,
                    VarType.INTEGER,
                    f"Frage {qid} Option {o}",
                    "option",
                    question_id=qid,
                    option_id=f"o{o}",
                    status_variable=status.name,
                    missing_codes=True,
                )
                for o in range(5)
            ]
        elif q in (5, 10):  # free text with field and scores
            variables.append(
                Variable(
                    qid,
                    VarKind.VALUE,
                    VarType.TEXT,
                    f"Frage {qid}",
                    "text",
                    question_id=qid,
                    status_variable=status.name,
                    width=60,
                )
            )
            variables.append(Variable(f"{qid}_field", VarKind.FIELD, VarType.TEXT, "Feld", "field", question_id=qid))
            variables += [
                Variable(
                    f"{qid}_score_{f}",
                    VarKind.SCORE,
                    VarType.NUMBER,
                    f"Wert {f}",
                    "score",
                    question_id=qid,
                    field_key=f,
                )
                for f in FIELDS
            ]
        else:
            variables.append(
                Variable(
                    qid,
                    VarKind.VALUE,
                    VarType.INTEGER,
                    f"Frage {qid}",
                    "question",
                    question_id=qid,
                    value_labels=labels,
                    status_variable=status.name,
                    missing_codes=True,
                )
            )
        variables.append(status)
    return Codebook("Leistungstest", "performance check", tuple(variables), survey="perf", versions=(1,))


def _rows(codebook: Codebook, count: int) -> Iterator[Row]:
    rng = random.Random(7)
    start = datetime(2026, 3, 1, tzinfo=UTC)
    for number in range(count):
        meta: dict[str, object] = {
            "respondent": f"p_{number:016x}",
            "response": f"r_{number:016x}",
            "version": 1,
            "campaign": "Frühjahr",
            "channel": "telegram",
            "completed": 1,
            "started_at": start + timedelta(minutes=number),
            "finished_at": start + timedelta(minutes=number + 3),
        }
        row: list[object] = []
        question: str | None = None
        status = Status.ANSWERED
        for variable in codebook.variables:
            if variable.kind is VarKind.META:
                row.append(meta[variable.name])
                continue
            if variable.question_id != question:  # the first variable of a question draws its status
                question, status = variable.question_id, rng.choice(STATUSES)
            answered = status is Status.ANSWERED
            if variable.kind is VarKind.STATUS:
                row.append(status)
            elif variable.type is VarType.TEXT:
                row.append(("Mehr Busse nach Ronsdorf, bitte! " * rng.randint(1, 6)) if answered else None)
            elif variable.kind is VarKind.SCORE:
                row.append(round(rng.random(), 4) if answered else None)
            elif variable.kind is VarKind.OPTION:
                row.append(rng.randint(0, 1) if answered else None)
            else:
                row.append(rng.randint(1, 5) if answered else None)
        yield row  # type: ignore[misc]


def _one(fmt: str, count: int) -> None:
    codebook = _codebook()
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / f"perf.{fmt}"
        began, cpu = time.perf_counter(), time.process_time()
        if fmt == "generate":  # the baseline: making the rows, which every format's figures include
            written, size = sum(1 for _ in _rows(codebook, count)), 0.0
        else:
            written = write_table(codebook, _rows(codebook, count), fmt, target, timezone=BERLIN)
            size = target.stat().st_size / 1e6
        seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures = {"format": fmt, "rows": written, "columns": len(codebook.variables), "seconds": round(seconds, 2)}
    figures |= {"cpu_seconds": round(cpu, 2), "peak_rss_mb": round(peak), "file_mb": round(size, 1)}
    print(json.dumps(figures))


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    if len(sys.argv) > 2:
        _one(sys.argv[2], count)
        return
    for fmt in ("generate", *FORMATS):
        subprocess.run([sys.executable, "-m", "tests.analytics_writers.perf_writers", str(count), fmt], check=True)


if __name__ == "__main__":
    main()
