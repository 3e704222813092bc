"""Analyst exports at scale: `python -m benchmarks.exports` prints one JSON line.

Default: 50,000 responses to a 12-question survey (two versions, branching, ~10 % unfinished, follow-ups) plus
10,000 ideas (`benchmarks.export_data`, the real schema, bulk-loaded) in a temporary SQLite file — or, with
`--database-url postgresql+psycopg://…/test`, in scratch PostgreSQL databases created beside that one and dropped
afterwards. Then every export runs as its own process, exactly as an analyst runs it:
`python -m bot.cli export responses --survey KEY --format F --out FILE` for csv, jsonl, xlsx and sav, and
`python -m bot.cli report --out report.html`, with the STADTDIALOG_* environment pointing at that database.

Figures per run: wall time (process start to exit, imports included), the child's CPU time (user + system: on a
machine shared with other jobs the wall time grows with the load, the CPU time hardly), the child's peak RSS, rows
written and file size. Peak RSS is the child's own VmHWM, which `benchmarks.peak_child` writes when it exits: no
polling can miss a short peak, no earlier child's peak leaks in (the trouble with deltas of
`getrusage(RUSAGE_CHILDREN)`), and — unlike `ru_maxrss` from `wait4()`, which Linux seeds with the RSS of the
process that spawned the child — this benchmark's own memory (the generated data) does not count.

"Flat memory" for CSV and JSONL: both also run against a second database with a quarter of the responses (and
ideas); `flat_ratio` = peak at full size ÷ peak at a quarter (1.0 = no growth with 4× the rows; target ≤ 1.2).

Rows are counted in the written file (csv: records, jsonl: lines, xlsx: the sheet's dimension, sav: the file header)
and compared with the responses generated. Targets (issue 11): CSV and JSONL < 20 s with flat memory, XLSX and
SAV < 60 s and < 600 MB, report < 30 s. `--profile DIR` runs each child under cProfile (slower; figures then
include the profiler) and prints its 25 most expensive functions to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import pstats
import re
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import export_data

ROOT = Path(__file__).resolve().parents[1]
FORMATS = ("csv", "jsonl", "xlsx", "sav")
EXTENSIONS = {"csv": "csv", "jsonl": "jsonl", "xlsx": "xlsx", "sav": "sav"}
TARGETS: dict[str, float] = {
    "csv_seconds": 20, "jsonl_seconds": 20, "xlsx_seconds": 60, "sav_seconds": 60, "report_seconds": 30,
    "xlsx_peak_rss_mb": 600, "sav_peak_rss_mb": 600, "flat_ratio": 1.2,
}
_EXPORTED = re.compile(r"exported\s+([\d,.]+)\s+rows?", re.IGNORECASE)


@dataclass
class Run:
    """One child process: how long, how much memory, what it wrote."""

    seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    returncode: int
    stderr: str


def run_child(arguments: Sequence[str], environ: dict[str, str], *, profile: Path | None = None) -> Run:
    """Run `python -m bot.cli ARGUMENTS` and measure it: wall time, CPU time via wait4, and the child's own peak
    RSS (VmHWM, written by `benchmarks.peak_child` at exit — wait4's ru_maxrss would include this parent's RSS)."""
    with tempfile.TemporaryDirectory() as scratch:
        peak_file = Path(scratch) / "peak"
        command = [sys.executable]
        if profile is not None:
            command += ["-m", "cProfile", "-o", str(profile)]
        command += ["-m", "benchmarks.peak_child", str(peak_file), "bot.cli", *arguments]
        with tempfile.TemporaryFile() as errors:
            began = time.perf_counter()
            process = subprocess.Popen(command, cwd=ROOT, env=environ, stdout=subprocess.DEVNULL, stderr=errors)
            _, status, usage = os.wait4(process.pid, 0)
            seconds = time.perf_counter() - began
            process.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
            errors.seek(0)
            stderr = errors.read().decode("utf-8", "replace")
        peak_kib = int(peak_file.read_text(encoding="ascii")) if peak_file.is_file() else 0
    cpu = usage.ru_utime + usage.ru_stime  # this child's own CPU time: what a busy machine does not inflate
    return Run(round(seconds, 2), round(cpu, 2), round(peak_kib / 1024, 1), process.returncode, stderr)


def count_rows(path: Path, file_format: str) -> int | None:
    """Data rows in an export file, counted independently of what the exporter says."""
    if not path.is_file():
        return None
    if file_format == "jsonl":
        with path.open("rb") as lines:
            return sum(1 for line in lines if line.strip())
    if file_format == "csv":
        with path.open(encoding="utf-8-sig", newline="") as handle:
            sample = handle.readline()
            handle.seek(0)
            delimiter = ";" if sample.count(";") > sample.count(",") else ","
            return max(0, sum(1 for _ in csv.reader(handle, delimiter=delimiter)) - 1)
    if file_format == "xlsx":
        from openpyxl import load_workbook

        workbook = load_workbook(path, read_only=True)
        try:
            sheet = workbook.worksheets[0]
            return None if sheet.max_row is None else sheet.max_row - 1
        finally:
            workbook.close()
    if file_format == "sav":
        import pyreadstat

        _, meta = pyreadstat.read_sav(str(path), metadataonly=True)
        rows: int | None = meta.number_rows
        return rows
    return None


def csv_statuses(path: Path) -> dict[str, dict[str, int]]:
    """Per question, how many rows of a CSV export carry each status (the `<question>_status` columns)."""
    counts: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8-sig", newline="") as handle:
        sample = handle.readline()
        handle.seek(0)
        reader = csv.reader(handle, delimiter=";" if sample.count(";") > sample.count(",") else ",")
        header = next(reader)
        columns = [(index, name.removesuffix("_status")) for index, name in enumerate(header)
                   if name.endswith("_status")]
        for row in reader:
            for index, question in columns:
                per = counts.setdefault(question, {})
                per[row[index]] = per.get(row[index], 0) + 1
    return counts


def status_mismatches(exported: dict[str, dict[str, int]], expected: dict[str, dict[str, int]]) -> list[str]:
    """Where the export's cell statuses differ from what the generator wrote (question ids are valid names here)."""
    problems = []
    for question in sorted(set(exported) | set(expected)):
        if exported.get(question, {}) != expected.get(question, {}):
            problems.append(f"{question}: exported {exported.get(question)} expected {expected.get(question)}")
    return problems


def _summary_rows(stderr: str) -> int | None:
    match = _EXPORTED.search(stderr)
    return None if match is None else int(re.sub(r"[,.]", "", match.group(1)))


def _print_profile(label: str, profile: Path) -> None:
    if not profile.is_file():
        return
    print(f"--- profile: {label} (cumulative, top 25) ---", file=sys.stderr)
    stats = pstats.Stats(str(profile), stream=sys.stderr)
    stats.strip_dirs().sort_stats("cumulative").print_stats(25)
    print(f"--- profile: {label} (own time, top 15) ---", file=sys.stderr)
    stats.sort_stats("tottime").print_stats(15)


def measure_export(file_format: str, environ: dict[str, str], folder: Path, label: str, expected_rows: int,
                   profile_dir: Path | None) -> dict[str, Any]:
    """`export responses` in one format; the figures as a dict."""
    out = folder / f"{label}.{EXTENSIONS[file_format]}"
    profile = None if profile_dir is None else profile_dir / f"{label}.prof"
    run = run_child(["export", "responses", "--survey", export_data.SURVEY_KEY, "--format", file_format,
                     "--out", str(out)], environ, profile=profile)
    result: dict[str, Any] = {"seconds": run.seconds, "cpu_seconds": run.cpu_seconds, "peak_rss_mb": run.peak_rss_mb}
    if run.returncode != 0:
        result.update(error=run.stderr.strip()[-800:], returncode=run.returncode)
        return result
    rows = count_rows(out, file_format)
    result.update(rows=rows, rows_reported=_summary_rows(run.stderr), rows_expected=expected_rows,
                  bytes=out.stat().st_size if out.is_file() else None)
    codebook = out.with_name(out.name + ".codebook.csv")
    if codebook.is_file():
        result["codebook_bytes"] = codebook.stat().st_size
    if profile is not None:
        _print_profile(label, profile)
    return result


def measure_report(environ: dict[str, str], folder: Path, profile_dir: Path | None) -> dict[str, Any]:
    """`report --out report.html` over the whole database."""
    out = folder / "report.html"
    profile = None if profile_dir is None else profile_dir / "report.prof"
    run = run_child(["report", "--out", str(out)], environ, profile=profile)
    result: dict[str, Any] = {"seconds": run.seconds, "cpu_seconds": run.cpu_seconds, "peak_rss_mb": run.peak_rss_mb}
    if run.returncode != 0 or not out.is_file():
        result.update(error=run.stderr.strip()[-800:], returncode=run.returncode)
        return result
    html = out.read_text(encoding="utf-8", errors="replace")
    result.update(bytes=out.stat().st_size, charts=html.count('class="chart"'),
                  suppressed_cells=html.count('data-suppressed="1"'))
    if profile is not None:
        _print_profile("report", profile)
    return result


# --------------------------------------------------------------------------------------------------- databases


def _libpq(url: str) -> str:
    from sqlalchemy import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextlib.contextmanager
def scratch_database(admin_url: str | None, folder: Path, label: str) -> Iterator[str]:
    """A URL of an empty database: a SQLite file in `folder`, or a PostgreSQL database created (and dropped after)
    on the server of `admin_url`."""
    if admin_url is None:
        yield f"sqlite:///{folder / f'{label}.sqlite3'}"
        return
    import psycopg
    from psycopg import sql
    from sqlalchemy import make_url

    name = f"stadtdialog_bench_exports_{label}_{secrets.token_hex(4)}"
    with psycopg.connect(_libpq(admin_url), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(_libpq(admin_url), autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def child_environment(url: str, data_dir: Path, survey_dir: Path) -> dict[str, str]:
    """The environment an analyst's shell would have: this database, its secret, no other STADTDIALOG_* setting."""
    environ = {key: value for key, value in os.environ.items() if not key.startswith("STADTDIALOG_")}
    environ.update({
        "STADTDIALOG_DATABASE_URL": url,
        "STADTDIALOG_DATA_DIR": str(data_dir),
        "STADTDIALOG_SURVEY_DIR": str(survey_dir),  # empty: nothing is imported besides the generated survey
        "STADTDIALOG_PSEUDONYM_SECRET": export_data.SECRET,
        "STADTDIALOG_LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    })
    return environ


# --------------------------------------------------------------------------------------------------- main


def _met(results: dict[str, dict[str, Any]], responses: int) -> dict[str, bool]:
    met: dict[str, bool] = {}
    for name in ("csv", "jsonl", "xlsx", "sav"):
        result = results.get(name)
        if result is None:
            continue
        ok = "error" not in result and result["seconds"] < TARGETS[f"{name}_seconds"]
        if name in ("xlsx", "sav"):
            ok = ok and result["peak_rss_mb"] < TARGETS[f"{name}_peak_rss_mb"]
        elif "flat_ratio" in result:
            ok = ok and result["flat_ratio"] <= TARGETS["flat_ratio"]
        met[name] = ok
        met[f"{name}_rows"] = result.get("rows") == responses
    if "csv" in results and "statuses_as_generated" in results["csv"]:
        met["csv_statuses"] = bool(results["csv"]["statuses_as_generated"])
    if "report" in results:
        met["report"] = "error" not in results["report"] and results["report"]["seconds"] < TARGETS["report_seconds"]
    return met


def run(responses: int, ideas: int, admin_url: str | None, formats: Sequence[str], report: bool,
        keep: Path | None, profile_dir: Path | None, seed: int) -> dict[str, Any]:
    """Build the databases, run every export, return the JSON line's content."""
    quarter_formats = [f for f in formats if f in ("csv", "jsonl")]
    results: dict[str, dict[str, Any]] = {}
    generated: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="stadtdialog-bench-exports-") as temporary:
        work = Path(temporary)
        out = keep or work / "out"
        out.mkdir(parents=True, exist_ok=True)
        (work / "surveys").mkdir()
        with scratch_database(admin_url, work, "full") as url:
            summary = export_data.build(url, responses=responses, ideas=ideas, seed=seed)
            generated["full_seconds"] = summary.seconds
            generated["answers"] = summary.answers
            generated["unfinished"] = summary.unfinished
            generated["by_version"] = {str(k): v for k, v in sorted(summary.by_version.items())}
            environ = child_environment(url, work / "data", work / "surveys")
            for file_format in formats:
                results[file_format] = measure_export(file_format, environ, out, file_format, responses, profile_dir)
            if "csv" in formats and "error" not in results["csv"]:  # checked after timing, not part of it
                mismatches = status_mismatches(csv_statuses(out / "csv.csv"), summary.statuses)
                results["csv"]["statuses_as_generated"] = not mismatches
                if mismatches:
                    results["csv"]["status_mismatches"] = mismatches[:5]
            if report:
                results["report"] = measure_report(environ, out, profile_dir)
        if quarter_formats:
            quarter = max(1, responses // 4)
            with scratch_database(admin_url, work, "quarter") as url:
                summary = export_data.build(url, responses=quarter, ideas=max(1, ideas // 4), seed=seed)
                generated["quarter_seconds"] = summary.seconds
                environ = child_environment(url, work / "data-quarter", work / "surveys")
                for file_format in quarter_formats:
                    label = f"{file_format}_quarter"
                    results[label] = measure_export(file_format, environ, out, label, quarter, profile_dir)
                    full, small = results[file_format], results[label]
                    if small.get("peak_rss_mb") and "error" not in full and "error" not in small:
                        full["flat_ratio"] = round(full["peak_rss_mb"] / small["peak_rss_mb"], 3)
                        full["growth_mb"] = round(full["peak_rss_mb"] - small["peak_rss_mb"], 1)
    return {
        "benchmark": "exports",
        "responses": responses,
        "ideas": ideas,
        "db": "sqlite" if admin_url is None else "postgresql",
        "results": results,
        "targets": TARGETS,
        "met": _met(results, responses),
        "generated": generated,
        "profiled": profile_dir is not None,
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Parse options, run, print one JSON line."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--responses", type=int, default=50_000, help="responses to the survey (default 50,000)")
    parser.add_argument("--ideas", type=int, default=10_000, help="ideas (default 10,000)")
    parser.add_argument("--database-url", help="PostgreSQL server to create scratch databases on, e.g. "
                        "postgresql+psycopg://postgres@127.0.0.1:5432/test (default: temporary SQLite files)")
    parser.add_argument("--formats", default=",".join(FORMATS), help="comma-separated, of csv,jsonl,xlsx,sav")
    parser.add_argument("--report", action=argparse.BooleanOptionalAction, default=True,
                        help="also time `report --out report.html` (default: on)")
    parser.add_argument("--keep", type=Path, help="write the export files into this folder and keep them")
    parser.add_argument("--profile", type=Path, metavar="DIR", help="run each child under cProfile, .prof files here")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        parser.error(f"unknown format(s): {', '.join(unknown)}")
    if args.database_url and not args.database_url.startswith("postgresql"):
        parser.error("--database-url is a PostgreSQL server URL (SQLite is the default)")
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    result = run(args.responses, args.ideas, args.database_url, formats, args.report, args.keep, args.profile,
                 args.seed)
    print(json.dumps(result, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
