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
TARGET_SECONDS = {"postgresql": 5.0, "sqlite": 10.0}
TARGET_MB = 1.5 * 1024
TARGET_RATIO = 1.5
TARGET_VIEW = 10.0
TARGET_HTML = 3.0
TARGET_API_MS = 300.0


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
        "adbc_driver_sqlite": _version("adbc_driver_sqlite"),
        "sqlalchemy": _version("sqlalchemy"),
        "psycopg": _version("psycopg"),
        "sqlite": sqlite3.sqlite_version,
        "postgresql": _postgres_version(admin_url) if admin_url else "not used",
        "duckdb_scanners_installed": _duckdb_scanners(),
    }


# --- one size on one engine -----------------------------------------------------


def run_measure(url: str, *args: str, tree: Path = PROJECT_ROOT) -> dict[str, Any]:
    """``bench.measure`` in a fresh process, with the code of ``tree``."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.measure", url, *args],
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
        check=False,
        timeout=3600,
    )
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise RuntimeError(f"bench.measure failed ({done.returncode})")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _api(url: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.api_summary", url],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=3600,
    )
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise RuntimeError(f"bench.api_summary failed ({done.returncode})")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run_engine(
    engine: str,
    data: loader.BenchData,
    *,
    reps: int,
    old_reps: int,
    protected: bool,
    html: bool,
    api: bool,
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
        loader.load_rows(engine, url, data)
        load_seconds = time.perf_counter() - started
        log(f"{engine}: {data.cases} cases bulk-loaded in {load_seconds:.1f} s")
        started = time.perf_counter()
        loader.fill_analysis(url)
        rebuild_seconds = time.perf_counter() - started
        log(f"{engine}: analysis table rebuilt in {rebuild_seconds:.1f} s")
        runs, old_runs = [], []
        for rep in range(reps):
            args = ["--path", "new"]
            if protected:
                args.append("--protected")
            if html:
                args.append("--html")
            load_before = os.getloadavg()
            result = run_measure(url, *args)
            result["loadavg_before"] = load_before
            runs.append(result)
            e2e = result["end_to_end"]
            log(
                f"{engine} {data.cases} new rep {rep + 1}/{reps}: end to end "
                f"{e2e['seconds']:.2f} s (cpu {e2e['cpu_seconds']:.2f} s), "
                f"peak {e2e['peak_rss_mb']:.0f} MB"
            )
        for rep in range(old_reps):
            load_before = os.getloadavg()
            result = run_measure(url, "--path", "old")
            result["loadavg_before"] = load_before
            old_runs.append(result)
            e2e = result["end_to_end"]
            log(
                f"{engine} {data.cases} old rep {rep + 1}/{old_reps}: end to end "
                f"{e2e['seconds']:.2f} s, peak {e2e['peak_rss_mb']:.0f} MB"
            )
        api_result = _api(url) if api else None
        if api_result:
            log(f"{engine} {data.cases} API county summary: {api_result}")
    finally:
        if engine == "postgresql":
            loader.drop_postgresql(admin_url, url)
        else:
            path = Path(loader.sqlite_path(url))
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
    digests = {r["tables_digest"] for r in [*runs, *old_runs]}
    return {
        "engine": engine,
        "cases": data.cases,
        "seed": data.seed,
        "rows": dict(data.rows),
        "generate_seconds": data.seconds,
        "load_seconds": load_seconds,
        "rebuild_seconds": rebuild_seconds,
        "protected": protected,
        "runs": runs,
        "old_runs": old_runs,
        "tables_identical": len(digests) == 1,
        "api": api_result,
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


def _e2e(runs: Sequence[dict[str, Any]]) -> float | None:
    return _median(runs, "end_to_end", "seconds")


def _verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def render(results: dict[str, Any]) -> str:
    entries = results["entries"]
    if not entries:
        return "(no results yet)"
    out = [
        "Generated by `python -m bench.compilation` (`--write-docs`); medians over the "
        "repetitions (`reps`), peak RSS the highest repetition. Times are wall-clock "
        "seconds; the CPU seconds of the measuring process are shown beside them because "
        "the machine was shared (CPU well below wall = waiting for a core). *Before* is "
        "the read every statistic used until the analysis table (every case's JSON "
        "values, row by row, `bench/json_read.py`), *after* the columnar read of "
        "`case_analysis`; both in the same run, on the same database, and their 40 "
        "tables are compared (identical: the hash of every table's data is equal).",
        "",
        "### Database → every table (unprotected): before and after",
        "",
        "| cases | engine | reps | before: end to end | after: read | frame | compile (40 tables) "
        "| **after: end to end** | CPU | speed-up | peak RSS MB before → after | tables identical "
        "| load avg |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for e in entries:
        runs, old = e["runs"], e.get("old_runs", [])
        before, after = _e2e(old), _e2e(runs)
        speedup = f"{before / after:.0f}×" if before and after else "–"
        loads = ", ".join(f"{r['loadavg_before'][0]:.1f}" for r in runs)
        out.append(
            f"| {_n(e['cases'])} | {e['engine']} | {len(runs)}+{len(old)} | {_s(before)} "
            f"| {_s(_median(runs, 'stages', 'read', 'seconds'))} "
            f"| {_s(_median(runs, 'stages', 'frame', 'seconds'))} "
            f"| {_s(_median(runs, 'stages', 'compile', 'seconds'))} "
            f"| **{_s(after)}** | {_s(_median(runs, 'end_to_end', 'cpu_seconds'))} | {speedup} "
            f"| {_mb(_max(old, 'end_to_end', 'peak_rss_mb'))} → "
            f"**{_mb(_max(runs, 'end_to_end', 'peak_rss_mb'))}** "
            f"| {'yes' if e.get('tables_identical') else '**no**'} | {loads} |"
        )
    out += [
        "",
        "### Aggregation against DuckDB (same data, same process)",
        "",
        "*Ours* = `compile_tables` of the 22 baseline tables (funnel and one-way "
        "distributions) from the analysis frame; *DuckDB SQL* = the same counts in SQL over "
        "the same frame columns already in DuckDB; *ingest + SQL* adds copying them in. "
        "Every run checks DuckDB's counts equal ours cell by cell.",
        "",
        "| cases | engine | ours | DuckDB SQL | ratio | DuckDB ingest + SQL | ratio | counts equal |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for e in entries:
        runs = e["runs"]
        ours = _median(runs, "stages", "compile_subset", "seconds")
        sql = _median(runs, "duckdb", "duckdb_frame_sql_seconds")
        total = _median(runs, "stages", "duckdb_frame", "seconds")
        equal = all(all(r.get("baseline_equal", {}).values()) for r in runs)
        out.append(
            f"| {_n(e['cases'])} | {e['engine']} | {_s(ours)} | {_s(sql)} | {_ratio(ours, sql)} "
            f"| {_s(total)} | {_ratio(ours, total)} | {'yes' if equal else '**no**'} |"
        )
    out += [
        "",
        "### The published national view, loading, the report and the API",
        "",
        "*National view* = read + frame + every table per year and municipality, rolled up "
        "to counties and the nation, disclosure control, years combined. *Rebuild* = "
        "`isu analysis rebuild` filling `case_analysis` from the bulk-loaded cases. "
        "*HTML report* = plan, read, tables and the HTML with all 40 charts (matplotlib), "
        "for every case in the database. *API* = `GET /api/v1/stats/summary` for county 01 "
        "as a regional user, whole years: the first request computes the protected release, "
        "the next 20 are served from it (until any case changes).",
        "",
        "| cases | engine | national view | of which protected compile | its peak RSS MB "
        "| bulk load | rebuild | HTML report | API first | API p50 / p95 (ms) |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for e in entries:
        runs = e["runs"]
        protected = _median(runs, "stages", "protected", "seconds")
        view = None
        if protected is not None:
            view = protected + sum(
                _median(runs, "stages", s, "seconds") or 0.0 for s in ("read", "frame")
            )
        api = e.get("api") or {}
        api_first = f"{api['first_ms'] / 1000:.2f} s" if api else "–"
        api_warm = f"{api['warm_median_ms']:.0f} / {api['warm_p95_ms']:.0f}" if api else "–"
        out.append(
            f"| {_n(e['cases'])} | {e['engine']} | {_s(view)} | {_s(protected)} "
            f"| {_mb(_max(runs, 'stages', 'protected', 'peak_rss_mb'))} "
            f"| {e['load_seconds']:.1f} | {e.get('rebuild_seconds', 0.0):.1f} "
            f"| {_s(_median(runs, 'stages', 'html_report', 'seconds'))} | {api_first} "
            f"| {api_warm} |"
        )
    target = [e for e in entries if e["cases"] >= TARGET_CASES]
    out += ["", "### Targets", ""]
    for e in target:
        runs = e["runs"]
        seconds = _e2e(runs) or float("inf")
        peak = _max(runs, "end_to_end", "peak_rss_mb") or float("inf")
        limit = TARGET_SECONDS[e["engine"]]
        ours = _median(runs, "stages", "compile_subset", "seconds") or 0.0
        sql = _median(runs, "duckdb", "duckdb_frame_sql_seconds") or 0.0
        ratio = ours / sql if sql else float("inf")
        line = (
            f"* {e['engine']}, 1 000 000 cases: all 40 tables {seconds:.1f} s "
            f"({_verdict(seconds < limit)}: < {limit:.0f} s); peak {_mb(peak)} MB "
            f"({_verdict(peak < TARGET_MB)}: < 1.5 GB); aggregation {ratio:.1f}× DuckDB's SQL "
            f"({_verdict(ratio <= TARGET_RATIO)}: ≤ {TARGET_RATIO}×)"
        )
        protected = _median(runs, "stages", "protected", "seconds")
        if protected is not None:
            view = protected + sum(
                _median(runs, "stages", s, "seconds") or 0.0 for s in ("read", "frame")
            )
            line += f"; national view {view:.1f} s ({_verdict(view < TARGET_VIEW)}: < 10 s)"
        out.append(line + ".")
    for e in entries:
        html = _median(e["runs"], "stages", "html_report", "seconds")
        if html is not None and e["cases"] <= 3070:
            out.append(
                f"* {e['engine']}, {_n(e['cases'])} cases: HTML report with every chart "
                f"{html:.2f} s ({_verdict(html < TARGET_HTML)}: < 3 s)."
            )
        api = e.get("api")
        if api:
            out.append(
                f"* {e['engine']}, {_n(e['cases'])} cases: county summary over the API, p95 "
                f"{api['warm_p95_ms']:.0f} ms from the published release "
                f"({_verdict(api['warm_p95_ms'] < TARGET_API_MS)}: < 300 ms); the first "
                f"request after a change {api['first_ms'] / 1000:.1f} s."
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
            f"{info.get('sqlalchemy')}, psycopg {info.get('psycopg')}, ADBC SQLite "
            f"{info.get('adbc_driver_sqlite')}, SQLite {info.get('sqlite')}, "
            f"PostgreSQL {info.get('postgresql')}.",
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
        "--old-reps",
        type=int,
        default=None,
        help="repetitions of the old JSON read (default: --reps)",
    )
    parser.add_argument(
        "--html-until", type=int, default=3070, help="time the HTML report up to this size"
    )
    parser.add_argument(
        "--api-at", default="100000", help="sizes at which to time the API county summary"
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
                reps = args.large_reps if cases >= args.large else args.reps
                entry = run_engine(
                    engine,
                    data,
                    reps=reps,
                    old_reps=reps if args.old_reps is None else args.old_reps,
                    protected=protected,
                    html=cases <= args.html_until,
                    api=cases in _sizes(args.api_at),
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
