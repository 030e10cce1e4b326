"""The DuckDB baseline: the funnel and the one-way distributions in SQL.

Two baselines over the same in-memory data as our pandas pipeline:

* :func:`from_raw` starts from the four :class:`~exporters.frame.RawData`
  frames (what ``app.stats.frame.read_raw`` returns): it copies them into
  DuckDB tables (*ingest*), then in SQL parses the multi-choice JSON texts,
  pivots the child tables per case and counts (*sql*). It is compared with
  ``build_frame`` + ``compile_tables`` of the same tables.
* :func:`from_frame` starts from the analysis frame (what ``build_frame``
  returns): it copies the columns the tables need into DuckDB and counts. It
  is compared with ``compile_tables`` of the same tables.

Both return tidy counts ``table, key, n, N`` with the exporters' conventions
(every category a row, ``ej_registrerad`` rows, N = cases where the item is
registered), so that :func:`exporter_counts` of our tables must equal them
exactly (``tests/unit/test_bench_loader.py``). DuckDB's scanners for
PostgreSQL and SQLite are extensions that are downloaded on first use; where
they cannot be (offline), DuckDB cannot read the database itself.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import pandas as pd

from exporters.codebook import Codebook
from exporters.definitions import (
    AGE_BANDS,
    DEFAULT_DEFINITIONS,
    DURATION_BINS,
    NO,
    NOT_REGISTERED,
    REGISTERED,
    YES,
    Definitions,
)
from exporters.frame import RawData
from exporters.spec import Table


def _funnel_steps() -> list[dict[str, Any]]:
    from app.stats.tables import table_catalogue

    steps: list[dict[str, Any]] = table_catalogue()["funnel"].compute["steps"]
    return steps


SINGLE_TABLES: dict[str, tuple[str, str | None]] = {
    # table id: (variable, population: None = all, "closed", "survey")
    "sex": ("sex", None),
    "origin": ("origin", None),
    "honour_context": ("honour_context", None),
    "violence_severity": ("violence_severity", None),
    "implementation": ("implementation", "closed"),
    "closing_reason": ("closing_reason", "closed"),
    "goal_followup": ("goal_followup", "closed"),
    "survey_violence_change": ("survey_violence_change", "survey"),
    "survey_support_importance": ("survey_support_importance", "survey"),
    "survey_influence": ("survey_influence", "survey"),
    "survey_positive": ("survey_positive", "survey"),
}
MULTI_TABLES = ("contact_initiative", "disability", "perpetrator")
BASELINE_TABLES: tuple[str, ...] = (
    "funnel",
    "sex",
    "age_band",
    "origin",
    "honour_context",
    "contact_initiative",
    "disability",
    "violence_severity",
    "perpetrator",
    "interventions",
    "implementation",
    "collaboration_partners",
    "collaboration_count",
    "closing_reason",
    "goal_followup",
    "duration",
    "survey_violence_change",
    "survey_support_importance",
    "survey_influence",
    "survey_positive",
    "risk_assessed",
    "risk_instruments",
)
"""The tables both sides compute: the funnel and the one-way distributions."""

COLUMNS = ["table", "key", "n", "N"]
Row = tuple[str, str, int, int]


@dataclass(frozen=True)
class Timed:
    counts: pd.DataFrame
    ingest_seconds: float
    sql_seconds: float

    @property
    def seconds(self) -> float:
        return self.ingest_seconds + self.sql_seconds


# --- tidy rows, as the exporters lay them out ------------------------------------


def _single(
    table: str,
    keys: Sequence[str],
    counts: Mapping[Any, int],
    population: int,
    *,
    not_registered: bool = True,
) -> list[Row]:
    n = [int(counts.get(k, 0)) for k in keys]
    big_n = sum(n)
    rows = [(table, k, v, big_n) for k, v in zip(keys, n, strict=True)]
    if not_registered:
        rows.append((table, NOT_REGISTERED, population - big_n, population))
    return rows


def _multi(
    table: str,
    keys: Sequence[str],
    counts: Mapping[Any, int],
    registered: int,
    population: int,
    *,
    not_registered: bool = True,
) -> list[Row]:
    rows = [(table, k, int(counts.get(k, 0)), registered) for k in keys]
    if not_registered:
        rows.append((table, NOT_REGISTERED, population - registered, population))
    return rows


def _frame(rows: Iterable[Row]) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=COLUMNS)


def exporter_counts(tables: Iterable[Table], ids: Sequence[str] = BASELINE_TABLES) -> pd.DataFrame:
    """The exporters' tables in the baseline's tidy form (dimension values
    joined by ``:``), for the tables in ``ids``."""
    rows: list[Row] = []
    for table in tables:
        if table.id not in ids:
            continue
        data = table.data
        keys = data[list(table.spec.dims)].astype(str).agg(":".join, axis=1)
        for key, n, big_n in zip(keys, data["n"], data["N"], strict=True):
            rows.append((table.id, str(key), int(n), int(big_n)))
    return _frame(rows)


def _count_keys(definitions: Definitions) -> list[str]:
    """Diagram 13's keys: 0, 1, 2, 3, 4+."""
    cap = definitions.collaboration_count_cap
    return [str(i) for i in range(cap)] + [f"{cap}+"]


def _keys(codebook: Codebook, key: str) -> list[str]:
    return [str(c) for c in codebook.codes(key)]


def _in(codes: Iterable[int]) -> str:
    return "(" + ", ".join(str(int(c)) for c in codes) + ")"


def _bands(column: str, bins: Sequence[tuple[int, int | None, str]]) -> str:
    whens = []
    for low, high, key in bins:
        cond = f"{column} >= {low}" + (f" AND {column} <= {high}" if high is not None else "")
        whens.append(f"WHEN {cond} THEN '{key}'")
    return f"CASE {' '.join(whens)} END"


def _counts(con: duckdb.DuckDBPyConnection, sql: str) -> dict[Any, int]:
    return {k: int(n) for k, n in con.execute(sql).fetchall()}


def _scalars(con: duckdb.DuckDBPyConnection, sql: str) -> list[int]:
    row = con.execute(sql).fetchone()
    if row is None:
        raise RuntimeError("no row")
    return [int(v or 0) for v in row]


# --- from the raw frames ---------------------------------------------------------


def from_raw(
    raw: RawData, codebook: Codebook, definitions: Definitions = DEFAULT_DEFINITIONS
) -> Timed:
    """Ingest the raw frames into DuckDB, then compute the baseline tables in SQL."""
    con = duckdb.connect()
    try:
        started = time.perf_counter()
        for name, frame in (
            ("raw_cases", raw.cases),
            ("raw_interventions", raw.interventions),
            ("raw_risks", raw.risk_assessments),
            ("raw_surveys", raw.surveys),
        ):
            con.register("_frame", frame)
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM _frame")
            con.unregister("_frame")
        ingested = time.perf_counter()
        rows = _raw_sql(con, codebook, definitions)
        done = time.perf_counter()
    finally:
        con.close()
    return Timed(_frame(rows), ingested - started, done - ingested)


def _raw_sql(
    con: duckdb.DuckDBPyConnection, codebook: Codebook, definitions: Definitions
) -> list[Row]:
    singles = [k for k in codebook.keys_of("single") if k != "unit_kind"]
    multis = codebook.keys_of("multi")
    survey_keys = [k for k in codebook.keys_of("single", "survey") if "." not in k]
    collaboration = codebook["collaboration"]
    counting = [o.code for o in collaboration.options if not o.exclusive]
    cap = definitions.collaboration_count_cap
    survey_columns = ", ".join(f"CAST(s.{k} AS INTEGER) AS {k}" for k in survey_keys)
    con.execute(
        f"""
        CREATE TEMP TABLE base AS
        SELECT
            c.closed_on IS NOT NULL AS closed,
            date_diff('day', CAST(c.actualised_on AS DATE), CAST(c.closed_on AS DATE)) + 1
                AS duration,
            {", ".join(f"CAST(c.{k} AS INTEGER) AS {k}" for k in singles)},
            CAST(c.age AS INTEGER) AS age,
            {", ".join(f"list_distinct(CAST(c.{k} AS INTEGER[])) AS {k}" for k in multis)},
            len(list_filter(CAST(c.collaboration AS INTEGER[]), lambda x: x IN {_in(counting)}))
                AS collaboration_n,
            i.types IS NOT NULL AS has_intervention,
            coalesce(i.types, []) AS intervention_types,
            r.instruments IS NOT NULL AS risk_assessed,
            coalesce(r.instruments, []) AS risk_instruments,
            s.case_id IS NOT NULL AS has_survey,
            {survey_columns}
        FROM raw_cases AS c
        LEFT JOIN (
            SELECT case_id, list(DISTINCT CAST(type_code AS INTEGER)) AS types
            FROM raw_interventions GROUP BY case_id
        ) AS i ON i.case_id = c.case_id
        LEFT JOIN (
            SELECT case_id, list(DISTINCT CAST(instrument_code AS INTEGER)) AS instruments
            FROM raw_risks GROUP BY case_id
        ) AS r ON r.case_id = c.case_id
        LEFT JOIN raw_surveys AS s ON s.case_id = c.case_id
        WHERE NOT coalesce(CAST(c.is_excluded AS BOOLEAN), false)
        """
    )
    rows: list[Row] = []
    rows += _funnel(
        con,
        "base",
        {
            "fatt_insats": "has_intervention",
            "avslutad": "closed",
            "avslutsorsak_angiven": f"closed AND closing_reason IN {_in(codebook.codes('closing_reason'))}",
            "maluppfoljning_angiven": f"closed AND goal_followup IN {_in(codebook.codes('goal_followup'))}",
            "brukarenkat_genomford": "closed AND has_survey",
        },
    )
    populations = {None: "true", "closed": "closed", "survey": "has_survey"}
    for table, (key, base) in SINGLE_TABLES.items():
        where = populations[base]
        rule = codebook[key].applies_when
        if rule is not None:
            where += f" AND {rule[0]} IN {_in(rule[1])}"
        counts = _counts(
            con, f"SELECT CAST({key} AS VARCHAR), count(*) FROM base WHERE {where} GROUP BY 1"
        )
        rows += _single(table, _keys(codebook, key), counts, sum(counts.values()))
    age = _counts(con, f"SELECT {_bands('age', AGE_BANDS)}, count(*) FROM base GROUP BY 1")
    rows += _single("age_band", [b[2] for b in AGE_BANDS], age, sum(age.values()))
    duration = _counts(
        con,
        f"SELECT {_bands('duration', DURATION_BINS)}, count(*) FROM base WHERE closed GROUP BY 1",
    )
    rows += _single("duration", [b[2] for b in DURATION_BINS], duration, sum(duration.values()))
    count_keys = _count_keys(definitions)
    band = (
        f"CASE WHEN collaboration IS NULL THEN NULL WHEN collaboration_n >= {cap} THEN '{cap}+' "
        "ELSE CAST(collaboration_n AS VARCHAR) END"
    )
    counts = _counts(con, f"SELECT {band}, count(*) FROM base GROUP BY 1")
    rows += _single("collaboration_count", count_keys, counts, sum(counts.values()))

    def multi(
        table: str, column: str, key: str, where: str, registered: str, not_registered: bool
    ) -> None:
        counts = _counts(
            con,
            f"SELECT CAST(u AS VARCHAR), count(*) FROM "
            f"(SELECT unnest({column}) AS u FROM base WHERE {where} AND {registered}) GROUP BY 1",
        )
        reg, population = _scalars(
            con, f"SELECT count(*) FILTER (WHERE {registered}), count(*) FROM base WHERE {where}"
        )
        rows.extend(
            _multi(
                table,
                _keys(codebook, key),
                counts,
                reg,
                population,
                not_registered=not_registered,
            )
        )

    for key in MULTI_TABLES:
        multi(key, key, key, "true", f"{key} IS NOT NULL", True)
    multi(
        "interventions",
        "intervention_types",
        "intervention_type",
        "has_intervention",
        "true",
        False,
    )
    partner = "coalesce(collaboration_n, 0) >= 1"
    multi("collaboration_partners", "collaboration", "collaboration", partner, "true", False)
    multi("risk_instruments", "risk_instruments", "risk_instrument", "risk_assessed", "true", False)
    assessed, population = _scalars(
        con, "SELECT count(*) FILTER (WHERE risk_assessed), count(*) FROM base"
    )
    rows += [
        ("risk_assessed", YES, assessed, population),
        ("risk_assessed", NO, population - assessed, population),
    ]
    return rows


def _funnel(con: duckdb.DuckDBPyConnection, table: str, flags: Mapping[str, str]) -> list[Row]:
    """The funnel's six steps; ``flags`` are the SQL conditions of steps 2–6."""
    steps = [step["key"] for step in _funnel_steps()]
    selects = ", ".join(f"count(*) FILTER (WHERE {flags[k]})" for k in steps[1:])
    closed_column = flags["avslutad"]
    values = _scalars(
        con, f"SELECT count(*), count(*) FILTER (WHERE {closed_column}), {selects} FROM {table}"
    )
    population, closed, *flagged = values
    counts = dict(zip(steps, [population, *flagged], strict=True))
    rows: list[Row] = []
    for key, base in ((s["key"], s["base"]) for s in _funnel_steps()):
        size = population if base == "cases" else closed
        rows.append(("funnel", f"{key}:{REGISTERED}", counts[key], size))
        rows.append(("funnel", f"{key}:{NOT_REGISTERED}", size - counts[key], size))
    return rows


# --- from the analysis frame ---------------------------------------------------------


def frame_columns(codebook: Codebook) -> list[str]:
    """The analysis-frame columns the baseline tables read."""
    columns = [
        "is_closed",
        "has_intervention",
        "has_closing_reason",
        "has_goal_followup",
        "survey_done",
        "has_survey",
        "risk_assessed",
        "age_band",
        "duration_bin",
        "collaboration_count",
        "collaboration_count_band",
    ]
    columns += [key for key, _base in SINGLE_TABLES.values()]
    for key in (*MULTI_TABLES, "collaboration"):
        columns += [f"{key}__{c}" for c in codebook.codes(key)] + [f"{key}__registered"]
    for key in ("intervention_type", "risk_instrument"):
        columns += [f"{key}__{c}" for c in codebook.codes(key)]
    return columns


def from_frame(
    frame: pd.DataFrame, codebook: Codebook, definitions: Definitions = DEFAULT_DEFINITIONS
) -> Timed:
    """Copy the needed frame columns into DuckDB, then count in SQL."""
    con = duckdb.connect()
    try:
        started = time.perf_counter()
        con.register("_frame", frame[frame_columns(codebook)])
        con.execute("CREATE TABLE f AS SELECT * FROM _frame")
        con.unregister("_frame")
        ingested = time.perf_counter()
        rows = _frame_sql(con, codebook, definitions)
        done = time.perf_counter()
    finally:
        con.close()
    return Timed(_frame(rows), ingested - started, done - ingested)


def _frame_sql(
    con: duckdb.DuckDBPyConnection, codebook: Codebook, definitions: Definitions
) -> list[Row]:
    rows = _funnel(
        con,
        "f",
        {
            "fatt_insats": "has_intervention",
            "avslutad": "is_closed",
            "avslutsorsak_angiven": "has_closing_reason",
            "maluppfoljning_angiven": "has_goal_followup",
            "brukarenkat_genomford": "survey_done",
        },
    )
    populations = {None: "true", "closed": "is_closed", "survey": "has_survey"}
    for table, (key, base) in SINGLE_TABLES.items():
        where = populations[base]
        rule = codebook[key].applies_when
        if rule is not None:
            where += f" AND {rule[0]} IN {_in(rule[1])}"
        counts = _counts(
            con,
            f"SELECT CAST(CAST({key} AS INTEGER) AS VARCHAR), count(*) FROM f WHERE {where} GROUP BY 1",
        )
        rows += _single(table, _keys(codebook, key), counts, sum(counts.values()))
    for table, column, where, keys in (
        ("age_band", "age_band", "true", [b[2] for b in AGE_BANDS]),
        ("duration", "duration_bin", "is_closed", [b[2] for b in DURATION_BINS]),
        ("collaboration_count", "collaboration_count_band", "true", _count_keys(definitions)),
    ):
        counts = _counts(
            con, f"SELECT CAST({column} AS VARCHAR), count(*) FROM f WHERE {where} GROUP BY 1"
        )
        rows += _single(table, keys, counts, sum(counts.values()))

    def multi(
        table: str, key: str, where: str, registered: str | None, not_registered: bool
    ) -> None:
        reg = registered or f"{key}__registered"
        codes = codebook.codes(key)
        selects = ", ".join(f"count(*) FILTER (WHERE {key}__{c} AND {reg})" for c in codes)
        values = _scalars(
            con, f"SELECT count(*) FILTER (WHERE {reg}), count(*), {selects} FROM f WHERE {where}"
        )
        reg_n, population, *n = values
        counts = dict(zip([str(c) for c in codes], n, strict=True))
        rows.extend(
            _multi(
                table,
                [str(c) for c in codes],
                counts,
                reg_n,
                population,
                not_registered=not_registered,
            )
        )

    for key in MULTI_TABLES:
        multi(key, key, "true", None, True)
    multi("interventions", "intervention_type", "has_intervention", "true", False)
    partner = "coalesce(collaboration_count, 0) >= 1"
    multi("collaboration_partners", "collaboration", partner, "true", False)
    multi("risk_instruments", "risk_instrument", "risk_assessed", "true", False)
    assessed, population = _scalars(
        con, "SELECT count(*) FILTER (WHERE risk_assessed), count(*) FROM f"
    )
    rows += [
        ("risk_assessed", YES, assessed, population),
        ("risk_assessed", NO, population - assessed, population),
    ]
    return rows
