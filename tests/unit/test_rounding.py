"""One rounding rule for every published figure: half up (exporters.rounding)."""

from __future__ import annotations

import ast

import numpy as np

from app.config import PROJECT_ROOT
from exporters.rounding import round_half_up

STATISTICS = ("exporters", "app/stats", "app/quality", "app/indicators", "app/analysis")


def test_half_up_not_bankers() -> None:
    assert [round_half_up(v, 1) for v in (0.25, 0.35, 2.45, 2.675 * 10, -0.25)] == [
        0.3,
        0.4,
        2.5,
        26.8,
        -0.3,
    ]
    assert round_half_up(2.675, 2) == 2.68  # 2.67499… in binary, 2.675 as written
    assert round(0.25, 1) == 0.2  # what the builtin would have published
    got = round_half_up(np.array([12.5, 33.35, 66.65, np.nan]), 1)
    assert np.array_equal(got[:3], [12.5, 33.4, 66.7])
    assert np.isnan(got[3])
    assert round_half_up(np.array([0.5, 1.5, 2.5]), 0).tolist() == [1.0, 2.0, 3.0]


def test_no_other_rounding_in_the_statistics_code() -> None:
    offenders = []
    for folder in STATISTICS:
        for path in sorted((PROJECT_ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.Call):
                    name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                    if name in ("round", "around", "quantize"):
                        offenders.append(f"{path.relative_to(PROJECT_ROOT)}:{node.lineno}")
    assert offenders == []
