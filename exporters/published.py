"""Key ratios and indicators for audiences outside the municipality (pure).

Kolada publishes U30750–U30752 as a total (T); the register's own split into
women (K) and men (M) is extra. For a published release (a regional user, the
public ``/kolada/v3`` API, ``isu export kolada --publish``):

* only municipality rows are kept (the districts of Stockholm and Göteborg are
  the register's own reporting units, not Kolada's);
* T is published as Kolada publishes it;
* K and M are hidden together when any count they reveal is small: the
  numerator of K or M, the persons of unknown sex (T − K − M, which K and M
  would reveal beside the published T) and, for a share, its denominator and
  the subjects outside the numerator, each under the threshold and above 0
  (the rule of :func:`exporters.summary.hide_small`). K and M are hidden
  together because T is published: one of them would give the other away.

A share Kolada does not publish (indicator A) can be protected as a whole on
the public API (``protect_total``). A hidden value is ``<NA>`` with the reason
``suppressed``, never a 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import pandas as pd

from exporters.disclosure import DEFAULT_THRESHOLD
from exporters.indicators import IndicatorResult
from exporters.rounding import round_half_up
from exporters.summary import hide_small

SUPPRESSED = "suppressed"
NATION_CODE = "0000"
"""Kolada's id of the nation (Riket)."""
AGGREGATE_METHOD = "sum_of_municipalities"
HIDDEN_COLUMNS = ("numerator", "raw_value", "value")


def _int(value: Any) -> int:
    """A count from a nullable integer cell (a missing count is 0)."""
    if value is None or value is pd.NA:
        return 0
    number = float(value)
    return 0 if math.isnan(number) else int(number)


def _small(count: int, threshold: int) -> bool:
    return hide_small(count, threshold, True) is None


def published_result(
    result: IndicatorResult,
    threshold: int = DEFAULT_THRESHOLD,
    *,
    protect_total: bool = False,
    ancestors: Mapping[str, Sequence[str]] | None = None,
) -> IndicatorResult:
    """``result`` as published outside the municipality (see the module docstring).

    ``protect_total``: for a share Kolada does not publish (indicator A on the
    public API), T too is hidden when its numerator, denominator or the
    subjects outside the numerator are small (and then K and M with it).

    ``ancestors``: area code -> the codes of the aggregates it is part of
    (:func:`with_aggregates`). An aggregate's K/M (or T) is hidden whenever a
    part's is: a published total beside its published parts would give a
    hidden part away by subtraction."""
    rows = result.rows[result.rows["level"] != "district"].reset_index(drop=True).copy()
    share = result.definition.denominator == "subjects"
    hide = pd.Series(False, index=rows.index)
    split_hidden: set[str] = set()
    total_hidden: set[str] = set()
    for code, block in rows.groupby("area_code", sort=False):
        by_sex = {str(r["sex"]): r for _, r in block.iterrows()}
        if not {"T", "K", "M"} <= set(by_sex):
            continue
        n = {s: _int(by_sex[s]["numerator"]) for s in ("T", "K", "M")}
        counts = [n["K"], n["M"], n["T"] - n["K"] - n["M"]]
        d = {s: _int(by_sex[s]["denominator"]) for s in ("T", "K", "M")}
        if share:
            counts += [
                d["K"],
                d["M"],
                d["T"] - d["K"] - d["M"],
                d["K"] - n["K"],
                d["M"] - n["M"],
            ]
        if any(_small(c, threshold) for c in counts):
            split_hidden.add(str(code))
        if protect_total and share:
            whole = [n["T"], d["T"], d["T"] - n["T"]]
            if any(_small(c, threshold) for c in whole):
                total_hidden.add(str(code))
    for child, above in (ancestors or {}).items():
        if child in split_hidden:
            split_hidden.update(above)
        if child in total_hidden:
            total_hidden.update(above)
    codes = rows["area_code"].astype(str)
    hide = (codes.isin(split_hidden) & rows["sex"].isin(["K", "M"])) | codes.isin(total_hidden)
    hidden = hide.to_numpy(dtype=bool)
    for column in HIDDEN_COLUMNS:
        rows[column] = rows[column].mask(hidden)
    if share:
        rows["denominator"] = rows["denominator"].mask(hidden)
    rows["count"] = rows["count"].mask(hidden, 0)
    rows["reason"] = rows["reason"].astype("object").mask(hidden, SUPPRESSED)
    return replace(result, rows=rows)


def county_id(county: str) -> str:
    """Kolada's id of a county (region): ``00`` + the county code."""
    return f"00{county}"


def with_aggregates(
    result: IndicatorResult, county_of: Mapping[str, str], counties: Sequence[str]
) -> tuple[IndicatorResult, dict[str, list[str]]]:
    """The result with a row per sex for each county in ``counties`` (Kolada's
    id ``00`` + county code) and for the nation (``0000``), and each
    municipality's ancestors (for :func:`published_result`).

    An aggregate is the sum of the numerators of the municipalities with a
    value over the sum of their denominators (adult population, or subjects
    for a share) × the scale: weighted, so that the county and the nation are
    ratios of their own; ``count`` is the number of municipalities behind it
    (Kolada's meaning for a group). Without a contributing municipality it is
    empty with a reason, never 0."""
    definition = result.definition
    rows = result.rows
    municipal = rows[rows["level"] == "municipality"]
    contributing = municipal[municipal["raw_value"].notna()]
    targets: list[tuple[str, str, set[str] | None]] = [
        ("county", county_id(c), {m for m, cc in county_of.items() if cc == c}) for c in counties
    ]
    targets.append(("nation", NATION_CODE, None))
    added: list[dict[str, Any]] = []
    for level, code, members in targets:
        for sex in ("T", "K", "M"):

            def within(
                frame: pd.DataFrame, sex: str = sex, members: set[str] | None = members
            ) -> pd.DataFrame:
                mask = frame["sex"] == sex
                if members is not None:
                    mask &= frame["area_code"].astype(str).isin(members)
                return frame[mask]

            part = within(contributing)
            taking_part = within(municipal)
            taking_part = taking_part[taking_part["numerator"].notna()]
            numerator = _sum(part["numerator"])
            denominator = _sum(part["denominator"])
            raw = definition.scale * numerator / denominator if len(part) and denominator else None
            if raw is not None:
                reason = None
            elif taking_part.empty:
                reason = "no_cases"
            elif definition.unit == "per_inhabitants":
                reason = "population_missing"
            else:
                reason = "no_subjects"
            years = {int(y) for y in part["population_year"].dropna().tolist()}
            added.append(
                {
                    "indicator": definition.id,
                    "level": level,
                    "area_code": code,
                    "municipality_code": code,
                    "period": result.period.label,
                    "sex": sex,
                    "ours": sex != "T" and definition.total_only_upstream,
                    "numerator": _sum(taking_part["numerator"]) if len(taking_part) else None,
                    "denominator": denominator if len(part) else None,
                    "population_year": years.pop() if len(years) == 1 else None,
                    "raw_value": raw,
                    "value": None if raw is None else round_half_up(raw, definition.decimals),
                    "count": len(part) if raw is not None else 0,
                    "method": AGGREGATE_METHOD,
                    "reason": reason,
                }
            )
    extra = pd.DataFrame(added, columns=list(rows.columns))
    for column in ("numerator", "denominator", "population_year", "count"):
        extra[column] = extra[column].astype("Int64")
    for column in ("raw_value", "value"):
        extra[column] = extra[column].astype("Float64")
    combined = pd.concat([rows, extra], ignore_index=True) if len(rows) else extra
    ancestors = {m: [county_id(c), NATION_CODE] for m, c in county_of.items() if c in set(counties)}
    for m in municipal["area_code"].astype(str):
        ancestors.setdefault(m, [NATION_CODE])
    for c in counties:
        ancestors[county_id(c)] = [NATION_CODE]
    return replace(result, rows=combined), ancestors


def _sum(values: pd.Series) -> int:
    return int(values.astype("Int64").fillna(0).sum())
