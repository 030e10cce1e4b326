"""Benchmark of the national compilation on generated data.

    python -m bench.compilation --cases 3070,100000,1000000 --engines sqlite,postgresql

Per size: generate the cases once (seeded, ``bench.loader``), then per engine:
a fresh migrated database, the bulk load, and repetitions of
``bench.measure`` (each in its own process) with the DuckDB baseline over the
same data in the same process. Results are merged into a JSON file (a later
run of other sizes adds to it) and, with ``--write-docs``, rendered into
docs/benchmarks.md between the ``bench:results`` markers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.catalogue.loader import load_catalogue
from app.config import PROJECT_ROOT
from bench import loader

DEFAULT_SIZES = (3070, 100_000, 1_000_000)
DEFAULT_ENGINES = ("sqlite", "postgresql")
DEFAULT_SEED = 20_231_231
PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
RESULTS = PROJECT_ROOT / "var" / "bench" / "compilation.json"
DOCS = PROJECT_ROOT / "docs" / "benchmarks.md"
START = "<!-- bench:results:start -->"
END = "<!-- bench:results:end -->"
TARGET_CASES = 1_000_000
TARGET_SECONDS = 15.0
TARGET_MB = 3 * 1024
TARGET_RATIO = 2.0


def log(message: str) -> None:
    sys.stderr.write(f"[{datetime.now().strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


# --- the machine ------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gb() -> float:
    with open("/proc/meminfo", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    return 0.0


def _version(module: str) -> str:
    try:
        imported = __import__(module)
    except ImportError:
        return "not installed"
    return str(getattr(imported, "__version__", "?"))


def _postgres_version(admin_url: str) -> str:
    import psycopg

    try:
        with psycopg.connect(loader.libpq(admin_url), connect_timeout=5) as conn:
            row = conn.execute("SHOW server_version").fetchone()
    except psycopg.Error:
        return "not reachable"
    return str(row[0]) if row else "?"


def _duckdb_scanners() -> dict[str, bool]:
    """Whether DuckDB's database scanners are installed (they are downloaded on
    first use, which an offline machine cannot)."""
    import duckdb

    con = duckdb.connect()
    try:
        rows = con.execute(
            "SELECT extension_name, installed FROM duckdb_extensions() "
            "WHERE extension_name IN ('postgres_scanner', 'sqlite_scanner')"
        ).fetchall()
    finally:
        con.close()
    return {str(name): bool(installed) for name, installed in rows}


def machine(admin_url: str | None) -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gb": round(_memory_gb(), 1),
        "python": platform.python_version(),
        "pandas": _version("pandas"),
        "numpy": _version("numpy"),
        "pyarrow": _version("pyarrow"),
        "duckdb": _version("duckdb"),
        "sqlalchemy": _version("sqlalchemy"),
        "psycopg": _version("psycopg"),
        "sqlite": sqlite3.sqlite_version,
        "postgresql": _postgres_version(admin_url) if admin_url else "not used",
        "duckdb_scanners_installed": _duckdb_scanners(),
    }


# --- one size on one engine -----------------------------------------------------


def _measure(url: str, *, protected: bool, prototype: bool) -> dict[str, Any]:
    args = [sys.executable, "-m", "bench.measure", url]
    if protected:
        args.append("--protected")
    if prototype:
        args.append("--prototype")
    done = subprocess.run(
        args, cwd=PROJECT_ROOT, capture_output=True, text=True, check=False, timeout=3600
    )
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise RuntimeError(f"bench.measure failed ({done.returncode})")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run_engine(
    engine: str,
    data: loader.BenchData,
    *,
    reps: int,
    protected: bool,
    prototype: bool,
    workdir: Path,
    admin_url: str,
) -> dict[str, Any]:
    if engine == "postgresql":
        url = loader.create_postgresql(admin_url)
    else:
        url = f"sqlite:///{workdir / f'bench-{data.cases}.sqlite3'}"
    try:
        loader.migrate(url)
        started = time.perf_counter()
        loader.load(engine, url, data)
        load_seconds = time.perf_counter() - started
        log(f"{engine}: {data.cases} cases loaded in {load_seconds:.1f} s")
        runs = []
        for rep in range(reps):
            load_before = os.getloadavg()
            result = _measure(url, protected=protected, prototype=prototype)
            result["loadavg_before"] = load_before
            runs.append(result)
            e2e = result["end_to_end"]
            log(
                f"{engine} {data.cases} rep {rep + 1}/{reps}: end to end {e2e['seconds']:.2f} s "
                f"(cpu {e2e['cpu_seconds']:.2f} s), peak {e2e['peak_rss_mb']:.0f} MB"
            )
    finally:
        if engine == "postgresql":
            loader.drop_postgresql(admin_url, url)
        else:
            path = Path(loader.sqlite_path(url))
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
    return {
        "engine": engine,
        "cases": data.cases,
        "seed": data.seed,
        "rows": dict(data.rows),
        "generate_seconds": data.seconds,
        "load_seconds": load_seconds,
        "protected": protected,
        "prototype": prototype,
        "runs": runs,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


# --- results -------------------------------------------------------------------------


def _load_results(path: Path) -> dict[str, Any]:
    if path.exists():
        stored: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return stored
    return {"entries": []}


def _store(path: Path, results: dict[str, Any], entry: dict[str, Any]) -> None:
    entries = [
        e
        for e in results["entries"]
        if (e["engine"], e["cases"]) != (entry["engine"], entry["cases"])
    ]
    entries.append(entry)
    entries.sort(key=lambda e: (e["cases"], e["engine"]))
    results["entries"] = entries
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1), encoding="utf-8")


def _median(runs: Sequence[dict[str, Any]], *path: str) -> float | None:
    values = []
    for run in runs:
        value: Any = run
        for key in path:
            if not isinstance(value, dict) or key not in value:
                value = None
                break
            value = value[key]
        if value is not None:
            values.append(float(value))
    return statistics.median(values) if values else None


def _max(runs: Sequence[dict[str, Any]], *path: str) -> float | None:
    values = [v for v in (_median([run], *path) for run in runs) if v is not None]
    return max(values) if values else None


def _s(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _mb(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f}".replace(",", " ")


def _n(value: int) -> str:
    return f"{value:,}".replace(",", " ")


def _ratio(ours: float | None, theirs: float | None) -> str:
    if ours is None or theirs is None or theirs <= 0:
        return "–"
    return f"{ours / theirs:.1f}×"


def render(results: dict[str, Any]) -> str:
    entries = results["entries"]
    if not entries:
        return "(no results yet)"
    out = [
        "Generated by `python -m bench.compilation` (`--write-docs`); medians over the "
        "repetitions (`reps`), peak RSS the highest repetition. Times are wall-clock "
        "seconds; the CPU seconds of the measuring process are shown beside them because "
        "the machine was shared (CPU well below wall = waiting for a core).",
        "",
        "### End to end: database → every table (unprotected)",
        "",
        "| cases | engine | reps | read | build_frame | compile (40 tables) | end to end | "
        "end to end CPU | peak RSS MB | load avg before |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for e in entries:
        runs = e["runs"]
        loads = ", ".join(f"{r['loadavg_before'][0]:.1f}" for r in runs)
        out.append(
            f"| {_n(e['cases'])} | {e['engine']} | {len(runs)} "
            f"| {_s(_median(runs, 'stages', 'read', 'seconds'))} "
            f"| {_s(_median(runs, 'stages', 'frame', 'seconds'))} "
            f"| {_s(_median(runs, 'stages', 'compile', 'seconds'))} "
            f"| **{_s(_median(runs, 'end_to_end', 'seconds'))}** "
            f"| {_s(_median(runs, 'end_to_end', 'cpu_seconds'))} "
            f"| **{_mb(_max(runs, 'end_to_end', 'peak_rss_mb'))}** | {loads} |"
        )
    out += [
        "",
        "### Against the DuckDB baseline (same data, same process)",
        "",
        "*Aggregation* = `build_frame` + `compile_tables` of the 22 baseline tables "
        "(funnel and one-way distributions) from the RawData frames; DuckDB = copy the "
        "same RawData frames in (*ingest*) + SQL. *Tables only* = `compile_tables` of "
        "the same 22 tables from the analysis frame; DuckDB = copy the needed frame "
        "columns in + SQL. Every run checks DuckDB's counts equal ours cell by cell.",
        "",
        "| cases | engine | ours: aggregation | DuckDB ingest + SQL | ratio | DuckDB SQL only "
        "| ratio | ours: tables only | DuckDB ingest + SQL | ratio | counts equal |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for e in entries:
        runs = e["runs"]
        frame = _median(runs, "stages", "frame", "seconds")
        subset = _median(runs, "stages", "compile_subset", "seconds")
        ours = None if frame is None or subset is None else frame + subset
        raw_total = _median(runs, "stages", "duckdb_raw", "seconds")
        raw_sql = _median(runs, "duckdb", "duckdb_raw_sql_seconds")
        frame_total = _median(runs, "stages", "duckdb_frame", "seconds")
        equal = all(all(r.get("baseline_equal", {}).values()) for r in runs)
        out.append(
            f"| {_n(e['cases'])} | {e['engine']} | {_s(ours)} | {_s(raw_total)} "
            f"| {_ratio(ours, raw_total)} | {_s(raw_sql)} | {_ratio(ours, raw_sql)} "
            f"| {_s(subset)} | {_s(frame_total)} | {_ratio(subset, frame_total)} "
            f"| {'yes' if equal else '**no**'} |"
        )
    out += [
        "",
        "### Published (protected) national view and the rest",
        "",
        "| cases | engine | protected compile | its peak RSS MB | generate rows | bulk load "
        "| interventions | risk assessments | surveys |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for e in entries:
        runs = e["runs"]
        rows = e["rows"]
        out.append(
            f"| {_n(e['cases'])} | {e['engine']} "
            f"| {_s(_median(runs, 'stages', 'protected', 'seconds'))} "
            f"| {_mb(_max(runs, 'stages', 'protected', 'peak_rss_mb'))} "
            f"| {e['generate_seconds']:.1f} | {e['load_seconds']:.1f} "
            f"| {_n(rows['interventions'])} | {_n(rows['risk_assessments'])} "
            f"| {_n(rows['survey_responses'])} |"
        )
    tried = [e for e in entries if e.get("prototype")]
    if tried:
        out += [
            "",
            "### Prototype: a columnar read (bench/columnar.py, see Findings)",
            "",
            "| cases | engine | read_raw | columnar read | its build_frame | its compile "
            "| end to end with it | its peak RSS MB | tables equal |",
            "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
        ]
        for e in tried:
            runs = e["runs"]
            parts = [
                _median(runs, "stages", f"{stage}_prototype", "seconds")
                for stage in ("read", "frame", "compile")
            ]
            total = None if None in parts else sum(p for p in parts if p is not None)
            peak = max(
                (
                    v
                    for v in (
                        _max(runs, "stages", f"{s}_prototype", "peak_rss_mb")
                        for s in ("read", "frame", "compile")
                    )
                    if v is not None
                ),
                default=None,
            )
            equal = all(r.get("baseline_equal", {}).get("prototype") for r in runs)
            out.append(
                f"| {_n(e['cases'])} | {e['engine']} "
                f"| {_s(_median(runs, 'stages', 'read', 'seconds'))} | {_s(parts[0])} "
                f"| {_s(parts[1])} | {_s(parts[2])} | **{_s(total)}** | {_mb(peak)} "
                f"| {'yes' if equal else '**no**'} |"
            )
    target = [e for e in entries if e["cases"] >= TARGET_CASES]
    if target:
        out += ["", "### Target (1 000 000 cases)", ""]
        for e in target:
            runs = e["runs"]
            seconds = _median(runs, "end_to_end", "seconds") or 0.0
            peak = _max(runs, "end_to_end", "peak_rss_mb") or 0.0
            frame = _median(runs, "stages", "frame", "seconds") or 0.0
            subset = _median(runs, "stages", "compile_subset", "seconds") or 0.0
            raw_total = _median(runs, "stages", "duckdb_raw", "seconds") or 0.0
            raw_sql = _median(runs, "duckdb", "duckdb_raw_sql_seconds") or 0.0
            ratio = (frame + subset) / raw_total if raw_total else float("inf")
            sql_ratio = (frame + subset) / raw_sql if raw_sql else float("inf")

            def verdict(ok: bool) -> str:
                return "met" if ok else "**missed**"

            out.append(
                f"* {e['engine']}: end to end {seconds:.1f} s "
                f"({verdict(seconds < TARGET_SECONDS)}: < {TARGET_SECONDS:.0f} s); "
                f"peak {_mb(peak)} MB ({verdict(peak < TARGET_MB)}: < 3 GB); "
                f"aggregation {ratio:.1f}× DuckDB ingest + SQL "
                f"({verdict(ratio <= TARGET_RATIO)}: ≤ 2×), {sql_ratio:.1f}× DuckDB's SQL alone "
                f"({verdict(sql_ratio <= TARGET_RATIO)})."
            )
    info = results.get("machine", {})
    if info:
        out += [
            "",
            "### Machine",
            "",
            f"{info.get('cpus')} CPUs ({info.get('cpu_model')}), {info.get('memory_gb')} GB; "
            f"Python {info.get('python')}, pandas {info.get('pandas')}, numpy {info.get('numpy')}, "
            f"pyarrow {info.get('pyarrow')}, DuckDB {info.get('duckdb')}, SQLAlchemy "
            f"{info.get('sqlalchemy')}, psycopg {info.get('psycopg')}, SQLite {info.get('sqlite')}, "
            f"PostgreSQL {info.get('postgresql')}. DuckDB scanners installed: "
            + ", ".join(
                f"{k} {'yes' if v else 'no'}"
                for k, v in info.get("duckdb_scanners_installed", {}).items()
            )
            + ".",
        ]
    return "\n".join(out)


def write_docs(path: Path, results: dict[str, Any]) -> None:
    text = path.read_text(encoding="utf-8")
    if START not in text or END not in text:
        raise RuntimeError(f"{path} has no {START} … {END} section")
    head, rest = text.split(START, 1)
    _old, tail = rest.split(END, 1)
    path.write_text(f"{head}{START}\n{render(results)}\n{END}{tail}", encoding="utf-8")


# --- the command -----------------------------------------------------------------------


def _sizes(text: str) -> list[int]:
    return [int(part.replace("_", "")) for part in text.split(",") if part.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark of the national compilation.")
    parser.add_argument("--cases", default=",".join(str(s) for s in DEFAULT_SIZES))
    parser.add_argument("--engines", default=",".join(DEFAULT_ENGINES))
    parser.add_argument("--reps", type=int, default=3, help="repetitions below --large")
    parser.add_argument("--large", type=int, default=TARGET_CASES, help="a large size from here")
    parser.add_argument("--large-reps", type=int, default=1, help="repetitions of large sizes")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument(
        "--protected",
        choices=("first", "all", "none"),
        default="first",
        help="measure the published view on the first engine (it does not depend on the engine)",
    )
    parser.add_argument(
        "--prototype",
        action="store_true",
        help="also time the columnar read prototype (bench.columnar) and check its tables",
    )
    parser.add_argument("--pg-admin-url", default=PG_ADMIN_URL)
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--write-docs", action="store_true", help=f"render into {DOCS}")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="keep the generated rows here and reuse them in later runs (default: a temporary "
        "directory, removed at the end)",
    )
    args = parser.parse_args(argv)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = set(engines) - set(DEFAULT_ENGINES)
    if unknown:
        parser.error(f"unknown engine(s): {', '.join(sorted(unknown))}")

    catalogue = load_catalogue(PROJECT_ROOT / "variables")
    results = _load_results(args.results)
    results["machine"] = machine(args.pg_admin_url if "postgresql" in engines else None)
    log(f"machine: {results['machine']}; load average {os.getloadavg()}")
    workdir = Path(tempfile.mkdtemp(prefix="isu-bench-"))
    try:
        for cases in _sizes(args.cases):
            log(f"generating {cases} cases (seed {args.seed})")
            data_dir = (args.data_dir or workdir) / f"{cases}-{args.seed}"
            data = loader.generate_data(data_dir, catalogue, cases=cases, seed=args.seed)
            log(f"generated {dict(data.rows)} in {data.seconds:.1f} s")
            for i, engine in enumerate(engines):
                protected = args.protected == "all" or (args.protected == "first" and i == 0)
                entry = run_engine(
                    engine,
                    data,
                    reps=args.large_reps if cases >= args.large else args.reps,
                    protected=protected,
                    prototype=args.prototype,
                    workdir=workdir,
                    admin_url=args.pg_admin_url,
                )
                _store(args.results, results, entry)
                if args.write_docs:
                    write_docs(DOCS, results)
            if args.data_dir is None:
                shutil.rmtree(data.directory, ignore_errors=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    sys.stdout.write(render(results) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
