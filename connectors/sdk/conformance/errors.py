"""The one error a conformance check raises."""

from __future__ import annotations

__all__ = ["ConformanceError"]


class ConformanceError(AssertionError):
    """A connector broke the contract; the message says which rule, where and how to fix it.

    It is an :class:`AssertionError` so pytest reports it as a failed check, not a crash.
    """
