"""Counters of one sync run, per mapping and direction, as the run report shows them."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class FailureNote:
    """One failed record for the report: ids masked later, reason verbatim."""

    item: str
    category: str
    message: str
    code: str | None = None


@dataclass
class MappingStats:
    mapping: str
    direction: str
    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    conflicts: int = 0
    held: int = 0
    failed: int = 0
    skipped_by_filter: int = 0
    retried: int = 0
    recovered: int = 0
    api_calls: int = 0
    write_calls: int = 0
    duration_s: float = 0.0
    error: str | None = None
    failures: list[FailureNote] = field(default_factory=list)
    failure_categories: Counter[str] = field(default_factory=Counter)

    def add_failure(self, note: FailureNote) -> None:
        self.failed += 1
        self.failure_categories[note.category] += 1
        if len(self.failures) < 200:  # the report shows a sample; the dead-letter table has all
            self.failures.append(note)

    def as_row(self) -> dict[str, Any]:
        return {
            "mapping": self.mapping, "direction": self.direction, "read": self.read,
            "created": self.created, "updated": self.updated, "unchanged": self.unchanged,
            "conflicts": self.conflicts, "held": self.held, "failed": self.failed,
            "skipped_by_filter": self.skipped_by_filter, "api_calls": self.api_calls,
            "duration_s": round(self.duration_s, 3), "error": self.error or "",
        }


@dataclass
class RuleStats:
    """What the rules phase of a run did (renkei/rules)."""

    qualified: int = 0
    routed: int = 0
    alerts_created: int = 0
    alerts_suppressed: int = 0  # the owner does not want this type, or is quiet
    alerts_without_owner: int = 0
    failed: int = 0
    duration_s: float = 0.0

    def as_row(self) -> dict[str, Any]:
        return {"qualified": self.qualified, "routed": self.routed,
                "alerts_created": self.alerts_created,
                "alerts_suppressed": self.alerts_suppressed,
                "alerts_without_owner": self.alerts_without_owner, "failed": self.failed,
                "duration_s": round(self.duration_s, 3)}


@dataclass
class RunSummary:
    run_id: str
    entity: str
    stats: list[MappingStats] = field(default_factory=list)
    status: str = "completed"
    rules: RuleStats = field(default_factory=RuleStats)

    def get(self, mapping: str, direction: str) -> MappingStats:
        for s in self.stats:
            if s.mapping == mapping and s.direction == direction:
                return s
        s = MappingStats(mapping, direction)
        self.stats.append(s)
        return s

    @property
    def writes(self) -> int:
        return sum(s.write_calls for s in self.stats)

    def as_json(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "entity": self.entity, "status": self.status,
                "mappings": [s.as_row() for s in self.stats], "rules": self.rules.as_row()}
