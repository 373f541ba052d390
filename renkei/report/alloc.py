"""Exact shares and their rounding: the largest-remainder method.

Attribution splits amounts into fractions (¥100 over three touches); a report shows whole
yen (or hundredths of a conversion). Rounding each row on its own would make the rows add
up to more or less than the total; the largest-remainder method floors every share and
hands the leftover units, one each, to the shares that lost the most, so the shown rows
always sum to the shown total.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from fractions import Fraction
from math import floor
from typing import TypeVar

K = TypeVar("K", bound=Hashable)


def largest_remainder(shares: Mapping[K, Fraction], *, order: Mapping[K, int] | None = None,
                      scale: int = 1) -> dict[K, int]:
    """Round ``shares * scale`` to integers that sum exactly to their exact total.

    The total itself must be a whole number of units (it is: every split in the report
    divides whole yen or whole conversions).

    Args:
        shares: Exact share per key.
        order: Tie-break rank per key (lower first) when remainders are equal; default:
            the mapping's iteration order. Results never depend on hash order.
        scale: Units per 1 (100 for hundredths).

    Raises:
        ValueError: the scaled total is not a whole number.
    """
    scaled = {k: v * scale for k, v in shares.items()}
    total = sum(scaled.values(), Fraction(0))
    if total.denominator != 1:
        raise ValueError(f"shares total {total} units, not a whole number")
    rank = order if order is not None else {k: i for i, k in enumerate(scaled)}
    out = {k: floor(v) for k, v in scaled.items()}
    left = int(total) - sum(out.values())
    by_loss = sorted(scaled, key=lambda k: (-(scaled[k] - out[k]), rank[k]))
    for k in by_loss[:left]:
        out[k] += 1
    return out
