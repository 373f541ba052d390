"""Secret values that cannot leak through ``repr``, ``str``, logs or exceptions."""

from __future__ import annotations

from typing import Any


class Secret:
    """Holds a secret string; shows only ``'**********'``.

    Example:
        >>> s = Secret("hunter2")
        >>> s
        Secret('**********')
        >>> s.get()
        'hunter2'
    """

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def get(self) -> str:
        """The secret itself. Pass it only to the code that sends it to the vendor."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> Any:  # pickling (Prefect results) must not need the repr
        return (Secret, (self._value,))


def reveal(value: Secret | str) -> str:
    """The plain string of a secret or of a plain value."""
    return value.get() if isinstance(value, Secret) else value
