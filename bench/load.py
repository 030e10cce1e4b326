"""Load benchmark of the write path: full cases through a real ``isu serve``.

``python -m bench.load [--engines sqlite,postgresql] [--clients 1,8,32]
[--workers 1,2] [--seconds 20] [--baseline REF] [--write-docs]``

Each client walks the README's case from start to finish, again and again:
create (with an Idempotency-Key), PATCH före, a risk assessment, two
interventions, PATCH under, close, the survey: eight requests per case. While
the writers run, reader clients GET a case and a page of the list, so that
read latency under write load is measured too. Reported per configuration:
cases/s, requests/s, p50/p95/p99 per request type, and errors (any 5xx or
unexpected status).

``--baseline REF`` runs the same load, in the same run, against the register
at git revision REF (checked out into ``var/bench/baseline``, served by this
virtualenv), one worker only (older revisions have no ``--workers``). Results
go to ``var/bench/load.json``; ``--write-docs`` renders them into
docs/benchmarks.md between the ``bench:load`` markers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "var" / "bench" / "load.json"
DOCS = ROOT / "docs" / "benchmarks.md"
START = "<!-- bench:load:start -->"
END = "<!-- bench:load:end -->"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"

CREATE = {
    "client_id": "19121212-1212",
    "actualised_on": "2025-03-03",
    "caseworker_ref": "HL-17",
    "values": {"sex": 1, "origin": 1, "disability": [4], "contact_initiative": [1, 8]},
}
FORE = {
    "values": {"perpetrator": [2], "honour_context": 2, "violence_severity": 2, "change_goal": 2},
    "comments": {"perpetrator": "Fri text, krypteras"},
}
RISK = {"assessed_on": "2025-03-04", "assessment_phase": 1, "risk_instrument": 1, "score": 3}
INTERVENTIONS = (
    {"intervention_start_on": "2025-03-10", "intervention_type": 4, "intervention_grounds": 2},
    {"intervention_start_on": "2025-03-12", "intervention_type": 10, "intervention_grounds": 1},
)
UNDER = {"values": {"collaboration": [5, 6]}}
CLOSE = {
    "closed_on": "2025-09-30",
    "values": {"implementation": 1, "goal_followup": 1, "closing_reason": 1},
}
SURVEY = {
    "answered_on": "2025-09-30",
    "language": 1,
    "mode": 2,
    "survey_violence_change": 1,
    "survey_support_importance": 5,
    "survey_positive": 1,
    "survey_influence": 4,
}


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    cases: int = 0

    def note(self, kind: str, response: httpx.Response, started: float, expected: int) -> None:
        self.latencies[kind].append(time.perf_counter() - started)
        if response.status_code != expected:
            self.errors[f"{kind} {response.status_code}"] += 1


async def _call(
    client: httpx.AsyncClient,
    tally: Tally,
    kind: str,
    expected: int,
    method: str,
    url: str,
    **kwargs: Any,
) -> httpx.Response:
    started = time.perf_counter()
    response = await client.request(method, url, **kwargs)
    tally.note(kind, response, started, expected)
    return response


async def _one_case(client: httpx.AsyncClient, token: str, tally: Tally) -> str | None:
    auth = {"Authorization": f"Bearer {token}"}
    r = await _call(
        client,
        tally,
        "create",
        201,
        "POST",
        "/api/v1/cases",
        json=CREATE,
        headers={**auth, "Idempotency-Key": uuid.uuid4().hex},
    )
    if r.status_code != 201:
        return None
    case = f"/api/v1/cases/{r.json()['id']}"
    etag = r.headers["etag"]

    async def patch(kind: str, body: dict[str, Any]) -> bool:
        nonlocal etag
        r = await _call(client, tally, kind, 200, "PATCH", case, json=body,
                        headers={**auth, "If-Match": etag})  # fmt: skip
        etag = r.headers.get("etag", etag)
        return r.status_code == 200

    if not await patch("patch_fore", FORE):
        return None
    r = await _call(client, tally, "risk", 201, "POST", f"{case}/risk-assessments",
                    json=RISK, headers=auth)  # fmt: skip
    for body in INTERVENTIONS:
        r = await _call(client, tally, "intervention", 201, "POST", f"{case}/interventions",
                        json=body, headers={**auth, "Idempotency-Key": uuid.uuid4().hex})  # fmt: skip
        etag = r.headers.get("etag", etag)
    if not await patch("patch_under", UNDER):
        return None
    r = await _call(client, tally, "close", 200, "POST", f"{case}/close", json=CLOSE,
                    headers={**auth, "If-Match": etag, "Idempotency-Key": uuid.uuid4().hex})  # fmt: skip
    etag = r.headers.get("etag", etag)
    r = await _call(client, tally, "survey", 200, "PUT", f"{case}/survey", json=SURVEY,
                    headers={**auth, "If-Match": etag})  # fmt: skip
    if r.status_code == 200:
        tally.cases += 1
    return case


async def _writer(url: str, token: str, tally: Tally, until: float, made: list[str]) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        while time.perf_counter() < until:
            case = await _one_case(client, token, tally)
            if case:
                made.append(case)


async def _reader(url: str, token: str, tally: Tally, until: float, made: list[str]) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        while time.perf_counter() < until:
            if made:
                await _call(client, tally, "read_case", 200, "GET", made[-1], headers=auth)
            await _call(client, tally, "read_list", 200, "GET", "/api/v1/cases?limit=50",
                        headers=auth)  # fmt: skip


async def _load(url: str, tokens: list[str], seconds: float, readers: int = 0) -> Tally:
    writes, reads = Tally(), Tally()
    made: list[str] = []
    until = time.perf_counter() + seconds
    await asyncio.gather(
        *(_writer(url, t, writes, until, made) for t in tokens),
        *(_reader(url, tokens[0], reads, until, made) for _ in range(readers)),
    )
    writes.latencies.update(reads.latencies)
    for key, count in reads.errors.items():
        writes.errors[key] += count
    return writes


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summarise(tally: Tally, seconds: float) -> dict[str, Any]:
    writes = [k for k in tally.latencies if not k.startswith("read_")]
    per_type = {
        kind: {
            "n": len(values),
            "p50_ms": round(statistics.median(values) * 1000, 1),
            "p95_ms": round(_percentile(values, 0.95) * 1000, 1),
            "p99_ms": round(_percentile(values, 0.99) * 1000, 1),
        }
        for kind, values in sorted(tally.latencies.items())
    }
    all_writes = [v for k in writes for v in tally.latencies[k]]
    return {
        "cases_per_s": round(tally.cases / seconds, 1),
        "write_requests_per_s": round(len(all_writes) / seconds, 1),
        "write_p95_ms": round(_percentile(all_writes, 0.95) * 1000, 1) if all_writes else None,
        "errors": dict(tally.errors),
        "per_type": per_type,
    }


# --- the server under test ---------------------------------------------------------


def _run(args: list[str], env: dict[str, str], cwd: Path) -> str:
    done = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{args[3:]} failed: {done.stdout[-800:]} {done.stderr[-1500:]}")
    return done.stdout


def _isu(source: Path) -> list[str]:
    return [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(source)!r}); "
            "from app.cli import main; main()"]  # fmt: skip


@contextmanager
def database(engine: str, tmp: Path) -> Iterator[str]:
    if engine == "sqlite":
        yield f"sqlite:///{tmp / 'load.sqlite3'}"
        return
    import psycopg

    name = f"isu_load_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def served(
    source: Path, url: str, clients: int, workers: int, tmp: Path
) -> Iterator[tuple[str, list[str]]]:
    """Migrate, make a unit and ``clients`` caseworkers, serve; yield the URL and tokens."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ISU_")}
    from app.security.crypto import MasterKey

    env.update(ISU_DATABASE_URL=url, ISU_MASTER_KEY=MasterKey.generate().to_text(),
               ISU_MODE="production", ISU_LOG_FORMAT="json")  # fmt: skip
    isu = _isu(source)
    _run([*isu, "db", "upgrade"], env, tmp)
    out = _run([*isu, "units", "create", "--name", "Lastprov", "--municipality", "0180"], env, tmp)
    unit = out.strip().split()[-1]
    tokens = []
    for n in range(clients):
        out = _run([*isu, "users", "create", f"last-{n}", "--role", "caseworker",
                    "--municipality", "0180", "--unit", unit], env, tmp)  # fmt: skip
        tokens.append(out.strip().splitlines()[-1])
    port = 18000 + os.getpid() % 1000
    command = [*isu, "serve", "--port", str(port)]
    if workers > 1:
        command += ["--workers", str(workers)]
    log = (tmp / "serve.log").open("wb")
    process = subprocess.Popen(command, env=env, cwd=tmp, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/api/v1/variables", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((tmp / "serve.log").read_text()[-3000:])
            time.sleep(0.3)
        yield base, tokens
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def baseline_checkout(ref: str) -> Path:
    target = ROOT / "var" / "bench" / "baseline"
    if not target.exists():
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(target), ref],
                       check=True, capture_output=True)  # fmt: skip
    else:
        subprocess.run(["git", "-C", str(target), "checkout", "--detach", ref],
                       check=True, capture_output=True)  # fmt: skip
    return target


def measure(
    source: Path, engine: str, clients: int, workers: int, seconds: float, readers: int = 0
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        with (
            database(engine, tmp) as url,
            served(source, url, clients, workers, tmp) as (base, tokens),
        ):
            asyncio.run(_load(base, tokens, 2.0))  # warm up
            tally = asyncio.run(_load(base, tokens, seconds, readers))
    return summarise(tally, seconds)


# --- report ---------------------------------------------------------------------------


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}"


def render(results: dict[str, Any]) -> str:
    rows = [
        "| revision | engine | workers | writers | readers | cases/s | write req/s | write p95 | "
        "read case p95 | read list p95 | errors |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for run in results["runs"]:
        r = run["result"]
        per = r["per_type"]

        def p95(kind: str, per: dict[str, Any] = per) -> str:
            return f"{per[kind]['p95_ms']} ms" if kind in per else "–"

        errors = ", ".join(f"{k}: {v}" for k, v in sorted(r["errors"].items())) or "0"
        rows.append(
            f"| {run['revision']} | {run['engine']} | {run['workers']} | {run['clients']} | "
            f"{run.get('readers', 0)} | "
            f"{r['cases_per_s']} | {r['write_requests_per_s']} | {r['write_p95_ms']} ms | "
            f"{p95('read_case')} | {p95('read_list')} | {errors} |"
        )
    detail = ["", "Per request type (p50 / p95 / p99, ms), current revision:", ""]
    detail.append("| engine | workers | writers | readers | " + " | ".join(TYPES) + " |")
    detail.append("| --- | ---: | ---: | ---: |" + " ---: |" * len(TYPES))
    for run in results["runs"]:
        if run["revision"] != "current":
            continue
        per = run["result"]["per_type"]
        cells = [
            f"{per[k]['p50_ms']} / {per[k]['p95_ms']} / {per[k]['p99_ms']}" if k in per else "–"
            for k in TYPES
        ]
        detail.append(f"| {run['engine']} | {run['workers']} | {run['clients']} | "
                      f"{run.get('readers', 0)} | " + " | ".join(cells) + " |")  # fmt: skip
    if results.get("imports"):
        detail += ["", "`isu import` into an empty database (check pass included):", ""]
        detail += [
            "| revision | engine | cases | seconds | cases/s |",
            "| --- | --- | ---: | ---: | ---: |",
        ]
        detail += [
            f"| {i['revision']} | {i['engine']} | {i['cases']} | {i['seconds']} | {i['cases_per_s']} |"
            for i in results["imports"]
        ]
    if results.get("first_starts"):
        detail += ["", "`make run`'s first start (migrate + 3 070 demo cases, SQLite):", ""]
        detail += ["| revision | seconds |", "| --- | ---: |"]
        detail += [f"| {f['revision']} | {f['seconds']} |" for f in results["first_starts"]]
    head = (
        f"Measured {results['measured_at']} on {results['machine']}, {results['seconds']} s "
        "per configuration after a 2 s warm-up. Writers walk the README's case (8 requests "
        "per case); readers GET the newest case and a page of the list while they write."
    )
    return "\n".join([head, "", *rows, *detail])


TYPES = ("create", "patch_fore", "risk", "intervention", "patch_under", "close", "survey",
         "read_case", "read_list")  # fmt: skip


def write_docs(results: dict[str, Any]) -> None:
    text = DOCS.read_text(encoding="utf-8")
    section = f"{START}\n{render(results)}\n{END}"
    if START in text:
        before, rest = text.split(START, 1)
        text = before + section + rest.split(END, 1)[1]
    else:
        text += f"\n{section}\n"
    DOCS.write_text(text, encoding="utf-8")


# --- bulk import and first start ------------------------------------------------------


def measure_import(source: Path, engine: str, cases: int) -> dict[str, Any]:
    """``isu import`` of ``cases`` generated cases (all municipalities) into an
    empty database: wall seconds and cases/s, check pass included."""
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        lines = tmp / "cases.jsonl"
        env = {k: v for k, v in os.environ.items() if not k.startswith("ISU_")}
        isu = _isu(source)
        with database(engine, tmp) as url:
            from app.security.crypto import MasterKey

            env.update(ISU_DATABASE_URL=url, ISU_MASTER_KEY=MasterKey.generate().to_text())
            _run([*isu, "generate", "--out", str(lines), "--cases", str(cases),
                  "--today", "2025-06-30"], env, tmp)  # fmt: skip
            _run([*isu, "db", "upgrade"], env, tmp)
            started = time.perf_counter()
            niced = ["--nice", "0"] if source == ROOT else []  # older revisions: no --nice
            _run([*isu, "import", str(lines), "--create-units", *niced], env, tmp)
            seconds = time.perf_counter() - started
    return {"cases": cases, "seconds": round(seconds, 1), "cases_per_s": round(cases / seconds)}


def measure_first_start(source: Path) -> dict[str, Any]:
    """What ``make run`` does before it serves: migrate an empty SQLite file and
    load the 3 070 demo cases (``isu db upgrade`` + ``isu demo --if-empty``)."""
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        env = {k: v for k, v in os.environ.items() if not k.startswith("ISU_")}
        env.update(ISU_DATABASE_URL=f"sqlite:///{tmp / 'isu.sqlite3'}", ISU_MODE="dev",
                   ISU_MASTER_KEY_FILE=str(tmp / "master.key"))  # fmt: skip
        isu = _isu(source)
        started = time.perf_counter()
        _run([*isu, "db", "upgrade"], env, tmp)
        _run([*isu, "demo", "--if-empty"], env, tmp)
        return {"seconds": round(time.perf_counter() - started, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--clients", default="1,8,32")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument(
        "--readers", default="0,8", help="reader clients beside the writers, per run"
    )
    parser.add_argument("--baseline", default=None, help="git revision measured as 'before'")
    parser.add_argument("--write-docs", action="store_true")
    parser.add_argument(
        "--import-cases", default="", help="also time isu import of N cases, e.g. 3070,100000"
    )
    parser.add_argument(
        "--first-start", action="store_true", help="also time make run's first start"
    )
    parser.add_argument(
        "--append", action="store_true", help="add to var/bench/load.json instead of replacing it"
    )
    options = parser.parse_args()
    runs = []
    sources = [("current", ROOT)]
    if options.baseline:
        sources.insert(0, (options.baseline, baseline_checkout(options.baseline)))
    for engine in options.engines.split(","):
        for clients in map(int, options.clients.split(",")):
            for revision, source in sources:
                worker_counts = (
                    [1] if revision != "current" else map(int, options.workers.split(","))
                )
                for workers in worker_counts:
                    for readers in map(int, options.readers.split(",")):
                        result = measure(source, engine, clients, workers, options.seconds, readers)
                        run = {"revision": revision, "engine": engine, "workers": workers,
                               "clients": clients, "readers": readers, "result": result}  # fmt: skip
                        print(json.dumps(run), flush=True)
                        runs.append(run)
    imports = []
    for engine in options.engines.split(",") if options.import_cases else []:
        for cases in map(int, options.import_cases.split(",")):
            for revision, source in sources:
                found = {"revision": revision, "engine": engine,
                         **measure_import(source, engine, cases)}  # fmt: skip
                print(json.dumps(found), flush=True)
                imports.append(found)
    first_starts = []
    if options.first_start:
        for revision, source in sources:
            found = {"revision": revision, **measure_first_start(source)}
            print(json.dumps(found), flush=True)
            first_starts.append(found)
    results = {
        "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": machine(),
        "seconds": options.seconds,
        "runs": runs,
        "imports": imports,
        "first_starts": first_starts,
    }
    if options.append and RESULTS.exists():
        earlier = json.loads(RESULTS.read_text(encoding="utf-8"))
        for key in ("runs", "imports", "first_starts"):
            results[key] = earlier.get(key, []) + results[key]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2), encoding="utf-8")
    if options.write_docs:
        write_docs(results)


if __name__ == "__main__":
    main()
