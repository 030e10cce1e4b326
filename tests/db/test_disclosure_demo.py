"""Issue 13 item 1 on the demo data: Stockholms län (county 01) as the
regional role sees it. The demo's 3 070 generated cases (seeded, the demo's
municipalities) are bulk-loaded (``bench.loader``), then summarised through
the service as a regional coordinator of county 01 would be.

The funnel and ``meta.cases`` are published (they used to be hidden whole
because of one small cell in another county); nothing under the threshold is
published; and a count is hidden in every table of the release that shows
it, or in none.
"""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path

from app.auth.principal import Principal
from app.catalogue.loader import load_catalogue
from app.config import PROJECT_ROOT
from app.db import make_engine, make_session_factory
from app.importer.demo import DEMO_MUNICIPALITIES
from app.stats.service import RELEASES, SummaryQuery, build_summary
from app.synthetic.generator import GeneratorConfig, generate_cases
from bench import loader
from exporters.definitions import NOT_REGISTERED

THRESHOLD = 7


def test_stockholms_lan_regional_summary_publishes_the_funnel(
    engine_name: str, fresh_database_url: str, tmp_path: Path
) -> None:
    catalogue = load_catalogue(PROJECT_ROOT / "variables")
    config = GeneratorConfig(today=loader.BENCH_TODAY, municipalities=DEMO_MUNICIPALITIES)
    rows = list(generate_cases(config))
    counts = loader.write_rows(rows, tmp_path / "rows", catalogue, seed=5)
    data = loader.BenchData(tmp_path / "rows", len(rows), 5, loader.BENCH_TODAY, counts, 0.0)
    loader.load(engine_name, fresh_database_url, data)

    regional = Principal(uuid.uuid4(), "regional", None, "01", None)
    query = SummaryQuery(date(2000, 1, 1), date(2099, 12, 31))
    RELEASES.clear()
    engine = make_engine(fresh_database_url)
    try:
        with make_session_factory(engine)() as session:
            summary = build_summary(
                session, catalogue, regional, query, threshold=THRESHOLD, today=date(2026, 1, 1)
            )
    finally:
        engine.dispose()
        RELEASES.clear()

    in_county = sum(1 for line in rows if line["municipality"] != "0380")
    assert summary.protected
    assert summary.n_cases == in_county
    funnel = summary.table("funnel").data
    assert set(funnel["area_code"].astype(str)) == {"01"}
    assert not funnel["suppressed"].any()
    assert not funnel["N_suppressed"].any()
    opened = funnel[
        (funnel["step"].astype(str) == "aktualiserad")
        & (funnel["registered"].astype(str) != NOT_REGISTERED)
    ]
    assert opened["n"].tolist() == [in_county]

    seen: dict[str, bool] = {}
    for table in summary.tables:
        d = table.data
        n = d["n"].astype("Int64")
        big_n = d["N"].astype("Int64")
        if table.spec.kind != "mean":
            assert not ((n > 0) & (n < THRESHOLD)).fillna(False).any(), table.id
        assert not ((big_n > 0) & (big_n < THRESHOLD)).fillna(False).any(), table.id
        # The same count is hidden everywhere or published everywhere.
        for column, flag in (("n_key", "suppressed"), ("N_key", "N_suppressed")):
            if table.spec.kind == "mean" and column == "n_key":
                continue
            for key, hidden in zip(d[column].astype(str), d[flag], strict=True):
                assert seen.setdefault(key, bool(hidden)) == bool(hidden), (
                    table.id,
                    key,
                )
