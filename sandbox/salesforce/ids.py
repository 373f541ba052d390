"""Salesforce record ids: 15 case-sensitive characters plus a 3-character checksum.

An id is ``key prefix (3) + pod (2) + reserved (1) + counter (9, base 62)``; the 18-character
form appends, for each 5-character chunk, one character whose bits say which of the chunk's
characters are upper-case [S: "What are Salesforce ID's composed of?" on
salesforce.stackexchange; the checksum algorithm is widely reimplemented]. The base-62 digit
order 0-9A-Za-z is also ASCII order, so the ids of one object sort like their counters.
"""

from __future__ import annotations

import re

__all__ = ["POD", "counter_of", "make_id", "to_18", "valid_id"]

_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_SHAPE = re.compile(r"^[0-9A-Za-z]{15}([0-9A-Z]{3})?$")
POD = "5j"


def _suffix(id15: str) -> str:
    out = []
    for start in range(0, 15, 5):
        bits = 0
        for i, ch in enumerate(id15[start:start + 5]):
            if "A" <= ch <= "Z":
                bits |= 1 << i
        out.append(_SUFFIX[bits])
    return "".join(out)


def make_id(prefix: str, counter: int) -> str:
    """The 18-character id of record number ``counter`` of an object.

    Example:
        >>> make_id("00Q", 1)
        '00Q5j0000000001EAA'
    """
    digits = []
    n = counter
    for _ in range(9):
        n, r = divmod(n, 62)
        digits.append(_B62[r])
    if n:
        raise ValueError("id counter out of range")
    id15 = prefix + POD + "0" + "".join(reversed(digits))
    return id15 + _suffix(id15)


def to_18(value: str) -> str | None:
    """The 18-character form of a 15- or 18-character id, or None if it is not id-shaped.

    An 18-character id with a wrong checksum is still accepted: Salesforce reads the first
    15 characters and recomputes the suffix.
    """
    if not _SHAPE.match(value):
        return None
    id15 = value[:15]
    return id15 + _suffix(id15)


def valid_id(value: object) -> bool:
    """True when ``value`` is shaped like a record id."""
    return isinstance(value, str) and _SHAPE.match(value) is not None


def counter_of(id18: str) -> int:
    """The counter a :func:`make_id` id was built from."""
    n = 0
    for ch in id18[6:15]:
        n = n * 62 + _B62.index(ch)
    return n
