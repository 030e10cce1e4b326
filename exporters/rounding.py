"""The one rounding rule of the product: half up (away from zero), as
published statistics round — never Python's banker's rounding.

``round_half_up`` works on a scalar or a numpy array. The tiny epsilon lets a
value that is a half in decimal but a hair below it in binary (2.675 is
2.67499999… as a float) round up as it reads.
"""

from __future__ import annotations

from typing import overload

import numpy as np

EPSILON = 1e-9


@overload
def round_half_up(value: float, decimals: int = 1) -> float: ...


@overload
def round_half_up(value: np.ndarray, decimals: int = 1) -> np.ndarray: ...


def round_half_up(value: float | np.ndarray, decimals: int = 1) -> float | np.ndarray:
    factor = 10.0**decimals
    magnitude = np.floor(np.abs(value) * factor + 0.5 + EPSILON) / factor
    rounded = np.copysign(magnitude, value)
    if isinstance(value, np.ndarray):
        return rounded
    return float(rounded)
