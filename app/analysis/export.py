"""``isu export analysis --format parquet``: the analysis table for analysts.

One Parquet dataset, partitioned Hive style by year and municipality
(``year=2025/municipality_code=0180/part-0.parquet``), readable by DuckDB,
Polars, R (arrow), Spark and Trino as it is. What leaves the installation is
pseudonymised for the recipient exactly as the SKR package is
(:mod:`app.submissions.package`): case, unit and caseworker references and
the client pseudonym are HMAC-SHA256 under a key derived from each
municipality's pseudonym key and the recipient's name, so the recipient's
pseudonyms are stable between its exports but cannot be linked to the
internal ones or to another recipient's. No free text: the analysis table has
none, and local variables (``local_values``, possibly free text, exported only
where their owner decides) are left out. Columns: docs/analysis-frame.md.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as pads
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.analysis.read import CaseFilter, query, read_arrow
from app.analysis.table import shared_layout
from app.models import Case
from app.security.keyring import Keyring
from app.submissions.package import RECIPIENT_PATTERN, recipient_keys

PARTITIONS = ("year", "municipality_code")
MANIFEST = "_manifest.json"
"""Beside the data; readers skip files that start with an underscore."""


@dataclass(frozen=True)
class ExportResult:
    rows: int
    files: int
    municipalities: int


def export_columns() -> list[str]:
    """Every typed column but the reader's bit masks and the local values."""
    return [n for n in shared_layout().names() if not n.endswith("__bits") and n != "local_values"]


def export_parquet(
    session: Session,
    keyring: Keyring,
    out: Path,
    *,
    recipient: str,
    where: CaseFilter,
    generated_at: datetime,
    catalogue_version: str,
) -> ExportResult:
    if not RECIPIENT_PATTERN.fullmatch(recipient):
        raise ValueError("recipient")
    names = export_columns()
    table = read_arrow(session, names, where, excluded=None)
    ids = query(["case_id"], where, excluded=None).subquery()
    refs = {
        case_id: (pseudonym, caseworker)
        for case_id, pseudonym, caseworker in session.execute(
            select(Case.id, Case.client_pseudonym, Case.caseworker_ref).where(
                Case.id.in_(select(ids.c.case_id))
            )
        )
    }
    municipalities = sorted(set(table.column("municipality_code").to_pylist()))
    keys = {m: recipient_keys(session, keyring, m, recipient)[1] for m in municipalities}
    case_ids = table.column("case_id").to_pylist()
    unit_ids = table.column("unit_id").to_pylist()
    places = table.column("municipality_code").to_pylist()
    case_keys, unit_keys, clients, caseworkers = [], [], [], []
    for case_id, unit_id, municipality in zip(case_ids, unit_ids, places, strict=True):
        k = keys[municipality]
        internal, caseworker = refs[uuid.UUID(case_id)]
        case_keys.append(k.short("case", case_id))
        unit_keys.append(k.short("unit", unit_id))
        clients.append(k.client(internal))
        caseworkers.append(k.short("caseworker", caseworker))
    table = table.set_column(names.index("case_id"), "case_id", pa.array(case_keys, pa.string()))
    table = table.set_column(names.index("unit_id"), "unit_id", pa.array(unit_keys, pa.string()))
    table = table.append_column("client_pseudonym", pa.array(clients, pa.string()))
    table = table.append_column("caseworker_ref", pa.array(caseworkers, pa.string()))
    out.mkdir(parents=True, exist_ok=True)
    written: list[str] = []
    pads.write_dataset(
        table,
        out,
        format="parquet",
        partitioning=pads.partitioning(
            pa.schema([("year", pa.int64()), ("municipality_code", pa.string())]), flavor="hive"
        ),
        existing_data_behavior="delete_matching",
        basename_template="part-{i}.parquet",
        file_visitor=lambda f: written.append(f.path),
    )
    (out / MANIFEST).write_text(
        json.dumps(
            {
                "format": "isu-analysis-parquet",
                "format_version": 1,
                "recipient": recipient,
                "catalogue_version": catalogue_version,
                "generated_at": generated_at.isoformat(),
                "rows": table.num_rows,
                "partitioning": {"flavor": "hive", "columns": list(PARTITIONS)},
                "pseudonyms": "HMAC-SHA256 under a key derived by HKDF-SHA256 from each "
                "municipality's pseudonym key and the recipient name (as the SKR package)",
                "columns": table.schema.names,
            },
            indent=2,
        ),
        encoding="utf-8",
    )
    return ExportResult(table.num_rows, len(written), len(municipalities))
