"""The analysis frame, read columnar from the analysis table.

``load_frame`` reads the needed columns of ``case_analysis`` as Arrow
(:mod:`app.analysis.read`: PostgreSQL COPY into pyarrow, SQLite through ADBC)
and types them with the pure :func:`exporters.frame.frame_from_table`. No ORM
objects, no JSON. Columns: docs/analysis-frame.md.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.analysis.read import CaseFilter, read_arrow
from app.analysis.table import case_analysis, shared_layout
from app.catalogue.loader import Catalogue
from app.models import Case, Intervention
from app.stats.codebook import codebook_from_catalogue
from exporters.analysis import layout_from_codebook
from exporters.definitions import DEFAULT_DEFINITIONS, Definitions
from exporters.frame import AnalysisFrame, frame_from_table
from exporters.indicators import CaseData, case_data_from_table

__all__ = ["CaseFilter", "load_frame", "read_case_data", "to_pandas"]

EXCLUDED_COLUMNS = ("municipality_code", "county_code", "exclusion_reason")


CATEGORY_TEXT = ("status", "age_band", "duration_bin", "risk_score_change")
"""Text columns with a handful of values: dictionary-encoded by Arrow, so that
pandas gets Categoricals instead of a million strings."""


def to_pandas(table: pa.Table) -> pd.DataFrame:
    """Arrow to pandas without Python objects for dates (``datetime64``)."""
    for name in CATEGORY_TEXT:
        if name in table.column_names:
            i = table.column_names.index(name)
            table = table.set_column(i, name, pc.dictionary_encode(table.column(i)))
    frame: pd.DataFrame = table.to_pandas(
        date_as_object=False, self_destruct=True, types_mapper=NULLABLE.get
    )
    return frame


NULLABLE = {
    pa.int16(): pd.Int16Dtype(),
    pa.int32(): pd.Int32Dtype(),
    pa.int64(): pd.Int64Dtype(),
}
"""Integers with their nulls, at their width (not float64: a code is 2 bytes)."""


def load_frame(
    session: Session,
    catalogue: Catalogue,
    where: CaseFilter,
    definitions: Definitions = DEFAULT_DEFINITIONS,
    *,
    ids: bool = True,
) -> AnalysisFrame:
    """The analysis frame of the cases ``where`` selects (excluded ones counted
    and left out). ``ids=False`` leaves out case and unit ids (statistics
    never need them)."""
    codebook = codebook_from_catalogue(catalogue)
    layout = layout_from_codebook(codebook)
    table = read_arrow(session, layout.frame_columns(ids=ids), where, layout=layout)
    excluded = read_arrow(session, EXCLUDED_COLUMNS, where, excluded=True, layout=layout)
    return frame_from_table(to_pandas(table), to_pandas(excluded), codebook, definitions)


CASE_DATA_COLUMNS = (
    "case_id",
    "municipality_code",
    "district_code",
    "actualised_on",
    "closed_on",
    "sex",
    "age",
)


def read_case_data(
    session: Session, municipality_codes: Collection[str], until: date, earliest: date
) -> CaseData:
    """What the key ratios and indicators need: every included case of the
    municipalities opened in [earliest, until] (columnar from the analysis
    table), its intervention records (start, grounds) and its client pseudonym."""
    where = CaseFilter(earliest, until, set(municipality_codes))
    layout = shared_layout()
    names = list(dict.fromkeys([*CASE_DATA_COLUMNS, *layout.singles, *layout.integers]))
    cases = to_pandas(read_arrow(session, names, where, layout=layout))
    ids = select(case_analysis.c.case_id).where(
        case_analysis.c.is_excluded.is_(False), *where.conditions()
    )
    interventions = session.execute(
        select(Intervention.case_id, Intervention.start_on, Intervention.grounds_code).where(
            Intervention.case_id.in_(ids)
        )
    ).all()
    iv = pd.DataFrame.from_records(
        [(str(c), s, g) for c, s, g in interventions],
        columns=["case_id", "start_on", "grounds_code"],
    )
    pseudonyms = session.execute(
        select(Case.id, Case.client_pseudonym).where(Case.id.in_(ids))
    ).all()
    persons = {str(case_id): p for case_id, p in pseudonyms}
    return case_data_from_table(cases, iv, persons)
