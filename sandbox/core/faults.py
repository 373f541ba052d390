"""Fault injection: rules that make an emulator misbehave like the real vendor does.

A :class:`FaultPlan` holds ordered :class:`FaultRule` objects. For every vendor API call
the emulator asks :meth:`FaultPlan.match`; the first rule that is due fires. Rules come
from code, from the sandbox configuration (:meth:`FaultPlan.from_config`) or over HTTP
(``POST /_sandbox/faults``).

Example:
    >>> plan = FaultPlan()
    >>> plan.add(FaultRule("rate_limit", path="/leads", after=1, times=1))
    >>> [r.kind if r else None for r in (plan.match("GET", "/leads"), plan.match("GET", "/leads"))]
    [None, 'rate_limit']
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Literal, get_args

__all__ = ["FAULT_KINDS", "FaultConfigError", "FaultKind", "FaultPlan", "FaultRule"]

FaultKind = Literal[
    "rate_limit",
    "quota",
    "concurrency",
    "server_error",
    "timeout",
    "slow",
    "reset",
    "truncate",
    "token_expired",
]
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)

#: Default sleep of a ``timeout`` fault before it answers 504.
DEFAULT_TIMEOUT_S = 60.0


class FaultConfigError(ValueError):
    """A fault rule is malformed (unknown kind or key, bad value); fix the configuration."""


@dataclass
class FaultRule:
    """One way to misbehave, and when.

    Matching calls are counted per rule: the first ``after`` are let through, then the
    rule fires on every ``every``-th one, ``times`` times in all (``None`` = forever).

    Attributes:
        kind: What happens (see :data:`FaultKind`).
        path: Regular expression searched in the request path; ``""`` matches any path.
        method: HTTP method to match (e.g. ``"POST"``); ``None`` matches any.
        times: Fire this many times, then disarm; ``None`` never disarms.
        after: Let the first N matching calls through first.
        every: Fire on every Nth matching call after ``after`` (1 = each one).
        status: HTTP status for ``server_error`` (default 503) and for ``rate_limit``,
            ``quota``, ``concurrency`` where the vendor signals them by HTTP status.
        retry_after: Seconds; put in ``Retry-After`` when set.
        delay_s: Sleep for ``slow`` (then answer normally) and ``timeout`` (then answer
            504; 0 means the default of 60 s).
        fired: How many times the rule has fired (bookkeeping, not configurable).
        seen: How many calls matched it so far (bookkeeping, not configurable).
    """

    kind: FaultKind
    path: str = ""
    method: str | None = None
    times: int | None = 1
    after: int = 0
    every: int = 1
    status: int | None = None
    retry_after: float | None = None
    delay_s: float = 0.0
    fired: int = field(default=0, init=False)
    seen: int = field(default=0, init=False)
    _pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise FaultConfigError(
                f"unknown fault kind {self.kind!r}; expected one of {', '.join(FAULT_KINDS)}"
            )
        try:
            self._pattern = re.compile(self.path or "")
        except re.error as exc:
            raise FaultConfigError(
                f"fault path {self.path!r} is not a valid regular expression: {exc}"
            ) from exc
        if self.method is not None:
            self.method = self.method.upper()
        if self.times is not None and self.times < 1:
            raise FaultConfigError(f"fault 'times' must be >= 1 or null, got {self.times}")
        if self.after < 0:
            raise FaultConfigError(f"fault 'after' must be >= 0, got {self.after}")
        if self.every < 1:
            raise FaultConfigError(f"fault 'every' must be >= 1, got {self.every}")
        if self.delay_s < 0:
            raise FaultConfigError(f"fault 'delay_s' must be >= 0, got {self.delay_s}")
        if self.status is not None and not 100 <= self.status <= 599:
            raise FaultConfigError(f"fault 'status' must be an HTTP status, got {self.status}")

    @property
    def exhausted(self) -> bool:
        """Whether the rule has fired all its ``times``."""
        return self.times is not None and self.fired >= self.times

    @property
    def timeout_s(self) -> float:
        """The sleep of a ``timeout`` fault: ``delay_s`` or the 60 s default."""
        return self.delay_s or DEFAULT_TIMEOUT_S

    def matches(self, method: str, path: str) -> bool:
        """Whether a call to ``method path`` is one this rule counts."""
        return (self.method is None or self.method == method.upper()) and bool(
            self._pattern.search(path)
        )

    def to_dict(self) -> dict[str, object]:
        """The rule as JSON-ready data, bookkeeping included."""
        data = asdict(self)
        data.pop("_pattern", None)
        return data


_CONFIG_KEYS = tuple(f.name for f in fields(FaultRule) if f.init)


class FaultPlan:
    """The ordered, thread-safe set of fault rules of one emulator."""

    def __init__(self, rules: list[FaultRule] | None = None) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = list(rules or [])

    def add(self, rule: FaultRule) -> None:
        """Append a rule; earlier rules win when several are due on the same call."""
        with self._lock:
            self._rules.append(rule)

    def match(self, method: str, path: str) -> FaultRule | None:
        """Count this call against every matching rule and fire the first one that is due.

        Firing consumes one of the rule's ``times``; an exhausted rule stays listed but
        never fires again.
        """
        chosen: FaultRule | None = None
        with self._lock:
            for rule in self._rules:
                if rule.exhausted or not rule.matches(method, path):
                    continue
                rule.seen += 1
                position = rule.seen - rule.after
                if chosen is None and position >= 1 and (position - 1) % rule.every == 0:
                    rule.fired += 1
                    chosen = rule
        return chosen

    def clear(self) -> None:
        """Remove every rule."""
        with self._lock:
            self._rules.clear()

    def rules(self) -> list[FaultRule]:
        """The rules in order (the live objects, with their ``fired``/``seen`` counters)."""
        with self._lock:
            return list(self._rules)

    @staticmethod
    def rule_from_config(item: Mapping[str, object]) -> FaultRule:
        """Build one rule from a mapping with :class:`FaultRule` field names.

        Raises:
            FaultConfigError: Unknown keys, a missing or unknown ``kind``, or a bad value.
        """
        if not isinstance(item, Mapping):
            raise FaultConfigError(f"a fault rule must be a mapping, got {type(item).__name__}")
        unknown = sorted(set(item) - set(_CONFIG_KEYS))
        if unknown:
            raise FaultConfigError(
                f"unknown fault rule key(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(_CONFIG_KEYS)}"
            )
        if "kind" not in item:
            raise FaultConfigError(
                f"fault rule {dict(item)!r} has no 'kind'; expected one of {', '.join(FAULT_KINDS)}"
            )
        try:
            return FaultRule(**item)  # type: ignore[arg-type]
        except TypeError as exc:
            raise FaultConfigError(f"bad fault rule {dict(item)!r}: {exc}") from exc

    @classmethod
    def from_config(cls, items: list[dict[str, object]] | None) -> FaultPlan:
        """Build a plan from configuration data (YAML/JSON lists of rule mappings).

        Example:
            >>> plan = FaultPlan.from_config([{"kind": "server_error", "path": "^/services/", "times": 2}])
            >>> plan.rules()[0].status is None
            True

        Raises:
            FaultConfigError: Names the offending rule (by position) and key.
        """
        plan = cls()
        for index, item in enumerate(items or []):
            try:
                plan.add(cls.rule_from_config(item))
            except FaultConfigError as exc:
                raise FaultConfigError(f"faults[{index}]: {exc}") from None
        return plan
