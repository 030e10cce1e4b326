"""One repetition of the compilation, measured in a fresh process.

``python -m bench.measure URL [--path new|old] [--protected] [--no-baseline]`` prints one JSON
object: wall and CPU seconds and peak resident memory (RSS) of each stage.

A fresh process per repetition, so that peak RSS is this repetition's alone
(not the generator's, not an earlier repetition's). Peak RSS is the kernel's
high-water mark (``VmHWM``), reset between stages through
``/proc/self/clear_refs``: unlike tracemalloc it counts numpy, Arrow and
DuckDB memory too.

Stages, in order, for one read path (``--path``):

1. ``read``: ``new`` — the analysis table's frame columns as Arrow
   (``app.analysis.read``: COPY into pyarrow / ADBC) into pandas; ``old`` —
   every case's JSON values, row by row (``bench.json_read``, the read every
   statistic used before the analysis table);
2. ``frame``: ``new`` — ``exporters.frame.frame_from_table``; ``old`` — the
   former ``build_frame`` (``bench.json_read.build_frame_json``);
3. ``compile``: ``exporters.summary.compile_tables``, every table, unprotected
   (a municipality's own view); 1-3 are *end to end*, whose peak RSS is the
   memory the compilation needs;
4. ``compile_subset``: the same, only the baseline's tables;
5. ``protected`` (with ``--protected``): the published national view (every
   table per year and municipality, rolled up, disclosure control, years
   combined);
6. ``duckdb_raw`` (old path) / ``duckdb_frame``: the DuckDB baselines
   (bench.baseline) over the same data, checked cell by cell against our
   tables.

Both paths hash every compiled table (``tables_digest``): the runner checks
that the old and the new path give identical tables.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import sys
import time
from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar

T = TypeVar("T")
MB = 1024 * 1024


def _status(field: str) -> int:
    """A ``/proc/self/status`` memory field in bytes."""
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def rss() -> int:
    return _status("VmRSS")


def peak_rss() -> int:
    return _status("VmHWM")


def reset_peak() -> bool:
    """Reset the high-water mark to the current RSS (Linux 4.0+)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as handle:
            handle.write("5")
    except OSError:
        return False
    return True


class Stages:
    def __init__(self) -> None:
        self.results: dict[str, dict[str, float]] = {}

    def run(self, name: str, fn: Callable[[], T]) -> T:
        gc.collect()
        reset_peak()
        before = rss()
        wall, cpu = time.perf_counter(), time.process_time()
        value = fn()
        self.results[name] = {
            "seconds": time.perf_counter() - wall,
            "cpu_seconds": time.process_time() - cpu,
            "rss_before_mb": before / MB,
            "peak_rss_mb": peak_rss() / MB,
        }
        return value


def _html_report(factory: Any, catalogue: Any) -> int:
    """The HTML report with every chart, as ``isu export summary --format html``
    makes it (plan, read, tables, writer), for every case in the database."""
    from app.stats import service
    from app.stats.frame import CaseFilter
    from exporters.codebook import Label
    from exporters.writers.html import write_html

    query = service.SummaryQuery(date(1900, 1, 1), date(2999, 12, 31))
    plan = service.Plan(
        CaseFilter(query.period_from, query.period_to),
        "internal",
        None,
        None,
        Label("Alla", "All"),
        "all",
        (None, None),
    )
    with factory() as session:
        summary = service.build_summary(
            session, catalogue, None, query, threshold=7, today=date(2025, 6, 30), plan=plan
        )
    return len(write_html(summary))


def measure(
    url: str, *, path: str, protected: bool, baseline: bool, html: bool = False
) -> dict[str, Any]:
    """One repetition of one read path: ``new`` (the analysis table, columnar)
    or ``old`` (every case's JSON values row by row, as before the table)."""
    started_rss = rss()
    import pandas as pd

    from app.catalogue.loader import load_catalogue
    from app.config import PROJECT_ROOT
    from app.db import make_engine, make_session_factory
    from app.reference import county_of
    from app.stats.codebook import codebook_from_catalogue
    from app.stats.frame import EXCLUDED_COLUMNS, CaseFilter, to_pandas
    from bench.baseline import BASELINE_TABLES, exporter_counts, from_frame, from_raw
    from exporters.analysis import layout_from_codebook
    from exporters.compare import NATION
    from exporters.frame import frame_from_table
    from exporters.summary import compile_tables

    catalogue = load_catalogue(PROJECT_ROOT / "variables")
    codebook = codebook_from_catalogue(catalogue)
    layout = layout_from_codebook(codebook)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    where = CaseFilter(date(1900, 1, 1), date(2999, 12, 31))
    stages = Stages()
    gc.collect()
    imported_rss = rss()

    def read_new() -> Any:
        from app.analysis.read import read_arrow

        with factory() as session:
            table = read_arrow(session, layout.frame_columns(ids=False), where, layout=layout)
            excluded = read_arrow(session, EXCLUDED_COLUMNS, where, excluded=True, layout=layout)
        return to_pandas(table), to_pandas(excluded)

    def read_old() -> Any:
        from bench.json_read import CaseFilter as JsonFilter
        from bench.json_read import read_raw

        with factory() as session:
            return read_raw(
                session, codebook, JsonFilter(where.actualised_from, where.actualised_to)
            )

    def frame_new(data: Any) -> Any:
        return frame_from_table(data[0], data[1], codebook)

    def frame_old(data: Any) -> Any:
        from bench.json_read import build_frame_json

        return build_frame_json(data, codebook)

    end_to_end_start = time.perf_counter()
    end_to_end_cpu = time.process_time()
    reset_peak()
    raw = stages.run("read", read_new if path == "new" else read_old)
    analysis = stages.run("frame", lambda: (frame_new if path == "new" else frame_old)(raw))
    tables = stages.run(
        "compile", lambda: compile_tables(analysis.frame, codebook, mode="internal")
    )
    end_to_end = {
        "seconds": time.perf_counter() - end_to_end_start,
        "cpu_seconds": time.process_time() - end_to_end_cpu,
        "peak_rss_mb": max(s["peak_rss_mb"] for s in stages.results.values()),
    }
    engine.dispose()
    subset = stages.run(
        "compile_subset",
        lambda: compile_tables(
            analysis.frame, codebook, mode="internal", table_ids=list(BASELINE_TABLES)
        ),
    )
    ours = exporter_counts(tables)
    if not _same(ours, exporter_counts(subset)):
        raise RuntimeError("the subset's tables differ from the whole compilation's")
    if protected:
        stages.run(
            "protected",
            lambda: compile_tables(
                analysis.frame, codebook, mode="protected", county_of=county_of(), areas=[NATION]
            ),
        )
    if html and path == "new":
        stages.run("html_report", lambda: _html_report(factory, catalogue))
    checks: dict[str, bool] = {}
    duckdb: dict[str, float] = {}
    if baseline:
        runs: list[tuple[str, Any]] = [
            ("duckdb_frame", lambda: from_frame(analysis.frame, codebook))
        ]
        if path == "old":
            runs.insert(0, ("duckdb_raw", lambda: from_raw(raw, codebook)))
        for name, fn in runs:
            timed = stages.run(name, fn)
            duckdb[f"{name}_ingest_seconds"] = timed.ingest_seconds
            duckdb[f"{name}_sql_seconds"] = timed.sql_seconds
            checks[name] = _same(ours, timed.counts)
    n_cases, n_columns = analysis.n_cases, len(analysis.frame.columns)
    frame_mb = float(analysis.frame.memory_usage(deep=True).sum()) / MB
    digest = _digest(tables)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "path": path,
        "cases": n_cases,
        "tables": len(tables),
        "tables_digest": digest,
        "frame_columns": n_columns,
        "frame_mb": frame_mb,
        "stages": stages.results,
        "end_to_end": end_to_end,
        "duckdb": duckdb,
        "baseline_equal": checks,
        "rss_start_mb": started_rss / MB,
        "rss_after_imports_mb": imported_rss / MB,
        "max_rss_mb": usage.ru_maxrss / 1024,
        "pandas": pd.__version__,
    }


def _digest(tables: Any) -> str:
    """A hash of every table's data: the old and the new path must agree."""
    import hashlib

    h = hashlib.sha256()
    for table in tables:
        h.update(table.id.encode())
        h.update(table.data.to_csv(index=False).encode())
    return h.hexdigest()


def _same(ours: Any, theirs: Any) -> bool:
    keys = ["table", "key"]
    left = ours.sort_values(keys).reset_index(drop=True)
    right = theirs.sort_values(keys).reset_index(drop=True)
    return bool(left.equals(right))


def _same_tables(ours: Any, theirs: Any) -> bool:
    import pandas as pd

    if [t.id for t in ours] != [t.id for t in theirs]:
        return False
    for mine, other in zip(ours, theirs, strict=True):
        try:
            pd.testing.assert_frame_equal(mine.data, other.data)
        except AssertionError:
            return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="SQLAlchemy URL of a loaded bench database")
    parser.add_argument("--protected", action="store_true", help="also the published view")
    parser.add_argument("--no-baseline", action="store_true", help="skip DuckDB")
    parser.add_argument(
        "--path",
        choices=("new", "old"),
        default="new",
        help="the analysis table or the old JSON read",
    )
    parser.add_argument("--html", action="store_true", help="also the HTML report with charts")
    args = parser.parse_args(argv)
    result = measure(
        args.url,
        path=args.path,
        protected=args.protected,
        baseline=not args.no_baseline,
        html=args.html,
    )
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
