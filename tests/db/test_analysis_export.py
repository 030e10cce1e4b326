"""``isu export analysis --format parquet``: the analysis table as a Hive-
partitioned Parquet dataset that pyarrow and DuckDB read back, with the
recipient's pseudonyms only (both engines)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.dataset as pads
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from app.cli import app as cli
from app.config import get_settings
from app.db import make_engine, make_session_factory
from app.importer.cli import run_import
from app.models import Case, Unit
from app.synthetic.generator import GeneratorConfig, generate_cases
from tests.conftest import TEST_MASTER_KEY, make_settings

PARTITIONS = pa.schema([("year", pa.int64()), ("municipality_code", pa.string())])


@pytest.fixture
def loaded(fresh_database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("ISU_DATABASE_URL", fresh_database_url)
    monkeypatch.setenv("ISU_MASTER_KEY", TEST_MASTER_KEY)
    get_settings.cache_clear()
    config = GeneratorConfig(
        today=date(2025, 6, 30), cases=60, seed=11, municipalities=("0180", "1280")
    )
    lines = [json.dumps(line) for line in generate_cases(config)]
    report = run_import(make_settings(fresh_database_url), lines, create_units=True, total=60)
    assert report.created == 60
    yield fresh_database_url
    get_settings.cache_clear()


def test_parquet_export_reads_back_with_only_the_recipients_pseudonyms(
    loaded: str, tmp_path: Path
) -> None:
    out = tmp_path / "analys"
    result = CliRunner().invoke(
        cli, ["export", "analysis", "--format", "parquet", "--out", str(out), "--recipient", "rss"]
    )
    assert result.exit_code == 0, result.output
    engine = make_engine(loaded)
    try:
        with make_session_factory(engine)() as session:
            cases = session.execute(
                select(
                    Case.id,
                    Case.client_pseudonym,
                    Case.caseworker_ref,
                    Case.municipality_code,
                    Case.actualised_on,
                    Case.unit_id,
                )
            ).all()
            unit_ids = set(session.scalars(select(Unit.id)))
    finally:
        engine.dispose()
    per_partition: dict[tuple[int, str], int] = {}
    for c in cases:
        key = (c.actualised_on.year, c.municipality_code)
        per_partition[key] = per_partition.get(key, 0) + 1
    for (year, municipality), _count in per_partition.items():
        files = list((out / f"year={year}" / f"municipality_code={municipality}").glob("*.parquet"))
        assert files, (year, municipality)

    table = pads.dataset(
        out, format="parquet", partitioning=pads.partitioning(PARTITIONS, flavor="hive")
    ).to_table()
    assert table.num_rows == len(cases) == 60
    assert {"sex", "perpetrator__2", "status", "client_pseudonym", "caseworker_ref"} <= set(
        table.column_names
    )
    assert not any(n.endswith("__bits") for n in table.column_names)
    assert "local_values" not in table.column_names
    internal = {
        *(c.client_pseudonym for c in cases),
        *(str(c.id) for c in cases),
        *(c.id.hex for c in cases),
        *(c.caseworker_ref for c in cases if c.caseworker_ref),
        *(str(u) for u in unit_ids),
    }
    texts = {
        v
        for name in table.column_names
        if pa.types.is_string(table.schema.field(name).type)
        for v in table.column(name).to_pylist()
        if v is not None
    }
    assert not texts & internal
    assert len(set(table.column("client_pseudonym").to_pylist())) == len(
        {c.client_pseudonym for c in cases}
    )

    relation = duckdb.sql(
        f"SELECT municipality_code, year, count(*) AS n FROM read_parquet('{out}/**/*.parquet', "
        "hive_partitioning = true, hive_types = {'municipality_code': VARCHAR, 'year': BIGINT}) "
        "GROUP BY ALL ORDER BY ALL"
    )
    assert relation is not None
    got = relation.fetchall()
    assert {(m, y): n for m, y, n in got} == {(m, y): n for (y, m), n in per_partition.items()}
    manifest = json.loads((out / "_manifest.json").read_text(encoding="utf-8"))
    assert (manifest["recipient"], manifest["rows"]) == ("rss", 60)


def test_another_recipient_gets_other_pseudonyms(loaded: str, tmp_path: Path) -> None:
    seen = []
    for recipient in ("rss", "forskare"):
        out = tmp_path / recipient
        result = CliRunner().invoke(
            cli, ["export", "analysis", "--out", str(out), "--recipient", recipient]
        )
        assert result.exit_code == 0, result.output
        table = pads.dataset(
            out, partitioning=pads.partitioning(PARTITIONS, flavor="hive")
        ).to_table()
        seen.append(set(table.column("client_pseudonym").to_pylist()))
    assert seen[0]
    assert not seen[0] & seen[1]
    bad = CliRunner().invoke(
        cli, ["export", "analysis", "--out", str(tmp_path / "x"), "--recipient", "Bad Name"]
    )
    assert bad.exit_code == 2
