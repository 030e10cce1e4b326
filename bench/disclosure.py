"""Disclosure control and the report, before and after, in one run.

``python -m bench.disclosure --cases 3070,100000 --baseline b5156b4 [--write-docs]``

On the same generated data (bulk-loaded into one SQLite file per size), the
published national view (every table, every area, protected:
``bench.measure --protected``) and the HTML report with every chart
(``--html``) are timed by the current tree and by a baseline revision
exported beside it (``var/bench/tree-<rev>``), alternating, in separate
processes. Results: ``var/bench/disclosure.json`` and, with
``--write-docs``, the section between the ``bench:disclosure`` markers of
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tarfile
import time
from io import BytesIO
from pathlib import Path
from statistics import median
from typing import Any

from app.catalogue.loader import load_catalogue
from app.config import PROJECT_ROOT
from bench import loader
from bench.compilation import run_measure

WORK = PROJECT_ROOT / "var" / "bench"
RESULTS = WORK / "disclosure.json"
DOCS = PROJECT_ROOT / "docs" / "benchmarks.md"
START, END = "<!-- bench:disclosure:start -->", "<!-- bench:disclosure:end -->"
STAGES = ("protected", "html_report")


def export_tree(revision: str) -> Path:
    """The baseline's files (``git archive``), once per revision."""
    tree = WORK / f"tree-{revision}"
    if not (tree / "bench" / "measure.py").exists():
        archive = subprocess.run(
            ["git", "archive", revision], cwd=PROJECT_ROOT, capture_output=True, check=True
        ).stdout
        tree.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=BytesIO(archive)) as tar:
            tar.extractall(tree, filter="data")
    return tree


def measure(tree: Path, url: str) -> dict[str, Any]:
    found = run_measure(url, "--protected", "--html", "--no-baseline", tree=tree)
    return {name: found["stages"][name] for name in STAGES}


def run(cases: int, revision: str, reps: int, seed: int) -> list[dict[str, Any]]:
    catalogue = load_catalogue(PROJECT_ROOT / "variables")
    data = loader.generate_data(WORK / f"data-{cases}", catalogue, cases=cases, seed=seed)
    url = f"sqlite:///{WORK / f'disclosure-{cases}.sqlite3'}"
    Path(loader.sqlite_path(url)).unlink(missing_ok=True)
    loader.migrate(url)
    loader.load_rows("sqlite", url, data)
    loader.fill_analysis(url)
    trees = {revision: export_tree(revision), "current": PROJECT_ROOT}
    found: list[dict[str, Any]] = []
    for rep in range(reps):
        for name, tree in trees.items():
            result = {"cases": cases, "revision": name, "rep": rep, **measure(tree, url)}
            print(json.dumps(result), flush=True)
            found.append(result)
    return found


def table(results: list[dict[str, Any]], revision: str) -> str:
    lines = [
        "| cases | revision | reps | national view, protected compile (s) | CPU (s) "
        "| HTML report with every chart (s) | ratio (protected) |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for cases in sorted({r["cases"] for r in results}):
        medians: dict[str, float] = {}
        for name in (revision, "current"):
            runs = [r for r in results if r["cases"] == cases and r["revision"] == name]
            medians[name] = median(r["protected"]["seconds"] for r in runs)
            cpu = median(r["protected"]["cpu_seconds"] for r in runs)
            html = median(r["html_report"]["seconds"] for r in runs)
            ratio = f"{medians[name] / medians[revision]:.2f}×" if name == "current" else "1×"
            lines.append(
                f"| {cases:,} | {name} | {len(runs)} | {medians[name]:.2f} | {cpu:.2f} "
                f"| {html:.2f} | {ratio} |".replace(",", " ")
            )
    return "\n".join(lines)


def write_docs(results: list[dict[str, Any]], revision: str) -> None:
    body = (
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by "
        f"`python -m bench.disclosure`, {os.cpu_count()} cores, load average "
        f"{os.getloadavg()[0]:.1f} at the end; medians.\n\n{table(results, revision)}"
    )
    text = DOCS.read_text(encoding="utf-8")
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    DOCS.write_text(f"{head}{START}\n{body}\n{END}{tail}", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="3070,100000")
    parser.add_argument("--baseline", default="b5156b4")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20251)
    parser.add_argument("--write-docs", action="store_true")
    options = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    results = [
        result
        for cases in map(int, options.cases.split(","))
        for result in run(cases, options.baseline, options.reps, options.seed)
    ]
    RESULTS.write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(table(results, options.baseline))
    if options.write_docs:
        write_docs(results, options.baseline)


if __name__ == "__main__":
    main()
