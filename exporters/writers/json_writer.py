"""The summary as JSON: a stable, documented shape (docs/compilation.md).

```
{"format": "isu-summary", "format_version": 1,
 "meta": {...period, scope, catalogue_version, protected, threshold, cases, excluded...},
 "tables": [{"id", "title": {sv, en}, "diagram", "denominator": {sv, en}, "kind",
             "section", "notes": [...], "dimensions": [{"name", "label": {sv, en}}],
             "rows": [{"<dim>": "<key>", "<dim>_label": "<sv label>", ...,
                       "n": int | "..", "N": int | "..", "percent": float | ".." | null,
                       "suppressed": bool, "N_suppressed": bool}]}]}
```
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from exporters.disclosure import SUPPRESSED_MARK
from exporters.spec import Table
from exporters.summary import Summary
from exporters.writers.common import BY_LABELS, dim_value_label

FORMAT_VERSION = 1


def _number(value: Any, hidden: bool, kind: type) -> Any:
    if hidden:
        return SUPPRESSED_MARK
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    return kind(value)


def table_json(summary: Summary, table: Table) -> dict[str, Any]:
    spec = table.spec
    columns = [*table.by, *spec.dims]
    value_col = "mean" if spec.kind == "mean" else "percent"
    has_flags = "suppressed" in table.data.columns
    rows = []
    for record in table.data.to_dict("records"):
        row: dict[str, Any] = {}
        for c in columns:
            value = record[c]
            row[c] = int(value) if c == "year" else str(value)
            if c not in ("year",):
                row[f"{c}_label"] = dim_value_label(summary, table, c, value)
        hidden_n = bool(record.get("suppressed", False)) if has_flags else False
        hidden_big = bool(record.get("N_suppressed", False)) if has_flags else False
        row["n"] = _number(record["n"], hidden_n, int)
        row["N"] = _number(record["N"], hidden_big, int)
        row[value_col] = _number(record[value_col], hidden_n or hidden_big, float)
        row["suppressed"] = hidden_n
        row["N_suppressed"] = hidden_big
        rows.append(row)
    known = {**table.dim_labels, **BY_LABELS}
    dims = [
        {"name": c, "label": known[c].as_json() if c in known else {"sv": c, "en": c}}
        for c in columns
    ]
    return {
        "id": spec.id,
        "title": spec.title.as_json(),
        "diagram": spec.diagram,
        "section": spec.section.as_json(),
        "denominator": spec.denominator.as_json(),
        "kind": spec.kind,
        "value": value_col,
        "notes": [n.as_json() for n in spec.notes],
        "dimensions": dims,
        "rows": rows,
    }


def summary_json(summary: Summary) -> dict[str, Any]:
    return {
        "format": "isu-summary",
        "format_version": FORMAT_VERSION,
        "meta": {
            "period": {
                "from": summary.period_from.isoformat(),
                "to": summary.period_to.isoformat(),
            },
            "scope": summary.scope.as_json(),
            "catalogue_version": summary.catalogue_version,
            "generated_on": summary.generated_on.isoformat(),
            "protected": summary.protected,
            "threshold": summary.threshold if summary.protected else None,
            "cases": summary.n_cases if summary.n_cases is not None else SUPPRESSED_MARK,
            "excluded": {
                reason: (count if count is not None else SUPPRESSED_MARK)
                for reason, count in summary.excluded.items()
            },
            "by_year": summary.by_year,
            "source": summary.source.as_json(),
            "notes": [n.as_json() for n in summary.notes],
        },
        "tables": [table_json(summary, t) for t in summary.tables],
    }


def write_json(summary: Summary) -> bytes:
    return json.dumps(summary_json(summary), ensure_ascii=False, indent=2).encode("utf-8")
