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
from dataclasses import replace
from typing import Any

import pandas as pd

from exporters.disclosure import DEFAULT_THRESHOLD
from exporters.indicators import IndicatorResult
from exporters.summary import hide_small

SUPPRESSED = "suppressed"
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
    result: IndicatorResult, threshold: int = DEFAULT_THRESHOLD, *, protect_total: bool = False
) -> IndicatorResult:
    """``result`` as published outside the municipality (see the module docstring).

    ``protect_total``: for a share Kolada does not publish (indicator A on the
    public API), T too is hidden when its numerator, denominator or the
    subjects outside the numerator are small (and then K and M with it)."""
    rows = result.rows[result.rows["level"] == "municipality"].reset_index(drop=True).copy()
    share = result.definition.denominator == "subjects"
    hide = pd.Series(False, index=rows.index)
    for _, block in rows.groupby("area_code", sort=False):
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
            split = block.index[block["sex"].isin(["K", "M"])]
            hide.loc[split] = True
        if protect_total and share:
            whole = [n["T"], d["T"], d["T"] - n["T"]]
            if any(_small(c, threshold) for c in whole):
                hide.loc[block.index] = True
    hidden = hide.to_numpy(dtype=bool)
    for column in HIDDEN_COLUMNS:
        rows[column] = rows[column].mask(hidden)
    if share:
        rows["denominator"] = rows["denominator"].mask(hidden)
    rows["count"] = rows["count"].mask(hidden, 0)
    rows["reason"] = rows["reason"].astype("object").mask(hidden, SUPPRESSED)
    return replace(result, rows=rows)
