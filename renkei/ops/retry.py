"""Failed-record replay: retry only the open dead letters an operator selects.

``renkei retry --category validation`` after a mapping fix, ``--run ID`` after an outage,
``--mapping M`` after a permission change. Inbound letters re-apply their stored payloads,
outbound ones re-plan their hub records (:meth:`renkei.engine.runner.SyncRunner.retry`); the
dead-letter table then says which recovered and which still fail, and why.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from renkei.engine.outbound import Step, direct
from renkei.engine.runner import SyncRunner
from renkei.engine.stats import RunSummary
from renkei.project import Project
from renkei.redact import mask_text
from renkei.store import DeadLetter, Store
from renkei.store import schema as t


@dataclass
class RetryOutcome:
    """What became of one selected dead letter."""

    letter: DeadLetter
    recovered: bool
    category_now: str | None = None
    message_now: str | None = None


@dataclass
class RetryReport:
    """The outcome of one ``renkei retry``."""

    outcomes: list[RetryOutcome] = field(default_factory=list)
    summary: RunSummary | None = None
    skipped_mappings: list[str] = field(default_factory=list)

    @property
    def recovered(self) -> int:
        return sum(o.recovered for o in self.outcomes)

    @property
    def still_failing(self) -> int:
        return len(self.outcomes) - self.recovered

    def by_category(self) -> list[dict[str, Any]]:
        """One row per original failure category: selected, recovered, still failing (and
        the categories they fail with now)."""
        rows: dict[str, dict[str, Any]] = {}
        now: dict[str, Counter[str]] = {}
        for o in self.outcomes:
            cat = o.letter.category
            row = rows.setdefault(cat, {"category": cat, "selected": 0, "recovered": 0,
                                        "still_failing": 0, "failing_now_as": ""})
            row["selected"] += 1
            if o.recovered:
                row["recovered"] += 1
            else:
                row["still_failing"] += 1
                now.setdefault(cat, Counter())[o.category_now or cat] += 1
        for cat, counts in now.items():
            rows[cat]["failing_now_as"] = ", ".join(f"{c} {n}" for c, n in counts.most_common())
        return [rows[c] for c in sorted(rows)]

    def detail(self, limit: int = 200) -> list[dict[str, Any]]:
        """Still-failing records (identifiers and messages masked), for the artifact."""
        return [{"mapping": o.letter.mapping, "direction": o.letter.direction,
                 "record": mask_text(o.letter.item_key), "was": o.letter.category,
                 "now": o.category_now or "", "reason": mask_text(o.message_now or "")}
                for o in self.outcomes if not o.recovered][:limit]

    def as_json(self) -> dict[str, Any]:
        return {"selected": len(self.outcomes), "recovered": self.recovered,
                "still_failing": self.still_failing, "by_category": self.by_category(),
                "skipped_mappings": self.skipped_mappings,
                "run_id": self.summary.run_id if self.summary else None}


def select_letters(store: Store, *, run: str | None = None, category: str | None = None,
                   mapping: str | None = None) -> list[DeadLetter]:
    """Open dead letters matching every given criterion.

    ``run`` is a renkei run id or the id of the Prefect flow run that made it (the UI shows
    the latter).
    """
    with store.transaction() as tx:
        letters = tx.dead_letters.select(run_id=run, category=category, mapping=mapping)
        if run is not None and not letters:
            row = tx.conn.execute(select(t.runs.c.id).where(t.runs.c.flow_run_id == run)).first()
            if row is not None:
                letters = tx.dead_letters.select(run_id=row.id, category=category,
                                                 mapping=mapping)
    return letters


def retry_failed(project: Project, store: Store, *, run: str | None = None,
                 category: str | None = None, mapping: str | None = None,
                 step: Step = direct, flow_run_id: str | None = None) -> RetryReport:
    """Retry the selected open dead letters and report which recovered.

    Args:
        project: Connections and mappings.
        store: The state store.
        run: Only letters last failed in this run (renkei run id or Prefect flow-run id).
        category: Only this failure category (``validation``, ``rate_limit``...).
        mapping: Only this mapping.
        step: Wraps each batch write (a Prefect task in the flow).
        flow_run_id: Stored with the retry's run record.
    """
    letters = select_letters(store, run=run, category=category, mapping=mapping)
    known = {m.name for m in project.mappings()}
    report = RetryReport(skipped_mappings=sorted({d.mapping for d in letters} - known))
    letters = [d for d in letters if d.mapping in known]
    if not letters:
        return report
    runner = SyncRunner(project, store, step=step)
    report.summary = runner.retry(letters, flow_run_id=flow_run_id)
    ids = [d.id for d in letters]
    with store.transaction() as tx:
        still_open = {d.id: d for d in tx.dead_letters.select(ids=ids)}
    for d in letters:
        now = still_open.get(d.id)
        report.outcomes.append(RetryOutcome(
            d, recovered=now is None, category_now=now.category if now else None,
            message_now=now.message if now else None))
    return report


__all__ = ["RetryOutcome", "RetryReport", "retry_failed", "select_letters"]
