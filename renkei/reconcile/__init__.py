"""Reconciliation: does the hub still agree with a system, record by record and field by field?

Syncs move *changes*; anything that happens outside the change feed — a record deleted in a
way the API does not report, a bulk fix in the vendor's database that leaves the modification
time alone, a failed write nobody noticed — is invisible to them. :func:`reconcile` reads the
whole stream through the connector, page by page, and for each page compares with the links
table and the hub records:

* **missing in system**: a linked system id the system no longer returns (deleted behind the
  hub's back);
* **not ingested**: a system record with no link and no open dead letter;
* **drifted**: a linked record whose mapped value (the system record projected with the
  mapping's ``to_hub``) differs from the link's baseline, or — for fields synced both ways —
  from the hub's value, with no pending change that explains it (an unprocessed journal entry,
  an open dead letter or conflict, or a newer system modification time than the link's).

Memory stays flat: per page, only the system ids seen are kept (id → a record checksum), so a
million-record stream costs tens of MB, not the records themselves. Values are compared as
checksums of their canonical form (match-key normalised where the engine compares that way).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, distinct, select

from renkei.engine.merge import blank
from renkei.mapping import Mapping, normalize_key
from renkei.project import Project
from renkei.redact import mask_text
from renkei.store import HubRecord, Link, Store, Tx
from renkei.store import schema as t

#: Policies that leave the hub and a system different on purpose (they guard writes).
_GUARDED = frozenset({"fill_if_blank", "write_once"})


class ReconcileError(Exception):
    """Reconciliation cannot run (unknown mapping, mapping without inbound fields)."""


@dataclass
class DriftedRecord:
    """One record that disagrees; identifiers are masked for reports.

    Attributes:
        kind: ``missing_in_system``, ``not_ingested`` or ``drifted``.
        system_id: The system's id, masked.
        record_id: The hub record id, when linked.
        fields: For ``drifted``: per field, which sides differ (``system≠baseline``,
            ``system≠hub``).
    """

    kind: str
    system_id: str
    record_id: int | None = None
    fields: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class ReconcileReport:
    """What one mapping's reconciliation found."""

    mapping: str
    entity: str
    run_id: str
    system_records: int = 0
    links: int = 0
    hub_records: int = 0
    missing_in_system: int = 0
    not_ingested: int = 0
    drifted: int = 0
    drifted_fields: dict[str, int] = field(default_factory=dict)
    pending: int = 0
    sample: list[DriftedRecord] = field(default_factory=list)

    @property
    def has_drift(self) -> bool:
        """True when anything disagrees without a pending change to explain it."""
        return bool(self.missing_in_system or self.not_ingested or self.drifted)

    def as_row(self) -> dict[str, Any]:
        """Counts as one table row (Prefect table artifact, ``renkei reconcile``)."""
        return {"mapping": self.mapping, "system_records": self.system_records,
                "links": self.links, "hub_records": self.hub_records,
                "missing_in_system": self.missing_in_system, "not_ingested": self.not_ingested,
                "drifted": self.drifted, "pending": self.pending}


def checksum(value: Any, normaliser: str | None = None) -> str:
    """A short, stable checksum of a mapped value's canonical form (blanks are one value)."""
    if blank(value):
        value = None
    elif normaliser is not None:
        value = normalize_key(normaliser, value)
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def _mask_id(system_id: str) -> str:
    masked = mask_text(system_id)
    return masked if masked != system_id else f"{system_id[:3]}…{system_id[-2:]}"


class _Reconciler:
    def __init__(self, project: Project, store: Store, m: Mapping, sample_size: int):
        self.project, self.store, self.m = project, store, m
        self.stream = project.connector(m.connection).stream(m.stream)
        self.report = ReconcileReport(m.name, m.entity, uuid.uuid4().hex)
        self.sample_size = sample_size
        self.seen: dict[str, str] = {}
        # the engine compares match-key fields through their normaliser: so do we
        self.norm: dict[str, str] = {}
        for key in m.match_keys:
            for f, n in zip(key.fields, key.normalizers):
                if n in ("company", "text", "kana"):
                    self.norm.setdefault(f, n)
        self.two_way = [f for f in m.inbound_fields if f in m.outbound_fields
                        and m.policy(f).kind not in _GUARDED]

    def _note(self, item: DriftedRecord) -> None:
        if len(self.report.sample) < self.sample_size:
            self.report.sample.append(item)

    def run(self) -> ReconcileReport:
        connector = self.project.connector(self.m.connection)
        with self.store.transaction() as tx:
            cursor = int((tx.cursors.get(self.m.name, "out") or {}).get("seq", 0))
        for page in connector.read(self.m.stream, None):
            with self.store.transaction() as tx:
                self._page(tx, page.records, cursor)
        with self.store.transaction() as tx:
            self._missing(tx)
            self.report.links = tx.links.count(self.m.name)
            self.report.hub_records = tx.records.count(self.m.entity)
            tx.ledger.add(self.project.ledger.drain(), self.report.run_id)
        return self.report

    def _page(self, tx: Tx, records: Sequence[dict[str, Any]], cursor: int) -> None:
        m = self.m
        by_id: dict[str, dict[str, Any]] = {}
        for raw in records:
            try:
                by_id[self.stream.record_id(raw)] = raw
            except KeyError:
                continue  # inbound holds such a record as a dead letter already
        self.report.system_records += len(by_id)
        links = tx.links.by_system_ids(m.name, by_id)
        hubs = tx.records.get_many(k.record_id for k in links.values())
        rids = [k.record_id for k in links.values()]
        pending_records = _journal_after(tx, m.entity, cursor, rids)
        pending_records |= {rid for rid, _ in tx.conflicts.open_fields(m.name, rids)}
        letters_in = {d.item_key for d in tx.dead_letters.open(m.name, "in")}
        pending_records |= {d.record_id for d in tx.dead_letters.open(m.name, "out")
                            if d.record_id is not None}
        for sid, raw in by_id.items():
            values = m.to_hub(raw).values
            self.seen[sid] = checksum(sorted((k, checksum(v)) for k, v in values.items()))
            link = links.get(sid)
            if link is None:
                if sid in letters_in:
                    self.report.pending += 1
                else:
                    self.report.not_ingested += 1
                    self._note(DriftedRecord("not_ingested", _mask_id(sid)))
                continue
            if (link.record_id in pending_records or sid in letters_in
                    or self._newer(raw, link)):
                self.report.pending += 1
                continue
            diff = self._diff(values, link, hubs.get(link.record_id))
            if diff:
                self.report.drifted += 1
                for f in diff:
                    self.report.drifted_fields[f] = self.report.drifted_fields.get(f, 0) + 1
                self._note(DriftedRecord("drifted", _mask_id(sid), link.record_id, diff))

    def _newer(self, raw: dict[str, Any], link: Link) -> bool:
        """The system changed the record after the hub last read it: a sync will bring it."""
        modified = self.m.system_modified_at(raw)
        return bool(modified and link.system_modified and modified > link.system_modified)

    def _diff(self, values: dict[str, Any], link: Link,
              hub: HubRecord | None) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for f in self.m.inbound_fields:
            if f not in values:
                continue  # a value that does not convert is the validator's business
            n = self.norm.get(f)
            system = checksum(values[f], n)
            sides = []
            if f in link.baseline and system != checksum(link.baseline[f], n):
                sides.append("system≠baseline")
            if (hub is not None and f in self.two_way
                    and self.m.passes_outbound_filter(hub.data)
                    and system != checksum(hub.data.get(f), n)):
                sides.append("system≠hub")
            if sides:
                out[f] = sides
        return out

    def _missing(self, tx: Tx) -> None:
        """Linked system ids the full read did not return, in keyset pages of the links."""
        c = t.links.c
        after = 0
        while True:
            rows = tx.conn.execute(
                select(c.id, c.system_id, c.record_id)
                .where(and_(c.mapping == self.m.name, c.id > after))
                .order_by(c.id).limit(1000)).all()
            if not rows:
                return
            after = rows[-1].id
            for r in rows:
                if r.system_id not in self.seen:
                    self.report.missing_in_system += 1
                    self._note(DriftedRecord("missing_in_system", _mask_id(r.system_id),
                                             r.record_id))


def _journal_after(tx: Tx, entity: str, after: int, record_ids: Iterable[int]) -> set[int]:
    """Records with a journal entry the mapping's outbound has not processed yet."""
    ids = sorted(set(record_ids))
    out: set[int] = set()
    c = t.journal.c
    for i in range(0, len(ids), 900):
        rows = tx.conn.execute(select(distinct(c.record_id)).where(and_(
            c.entity == entity, c.seq > after, c.record_id.in_(ids[i:i + 900]))))
        out.update(r[0] for r in rows)
    return out


def reconcile(project: Project, store: Store, mapping: str, *,
              sample_size: int = 20) -> ReconcileReport:
    """Compare one mapping's system with the hub (see the module docstring).

    Raises:
        ReconcileError: the project has no such mapping, or it reads nothing from its system.
    """
    by_name = {m.name: m for m in project.mappings()}
    if mapping not in by_name:
        raise ReconcileError(f"no mapping {mapping!r} in this project "
                             f"(mappings: {', '.join(sorted(by_name)) or 'none'})")
    m = by_name[mapping]
    if not m.inbound_fields:
        raise ReconcileError(f"mapping {mapping!r} reads no fields from {m.connection}: "
                             "there is nothing to compare")
    return _Reconciler(project, store, m, sample_size).run()


def render_markdown(reports: Sequence[ReconcileReport]) -> str:
    """A markdown report: counts per mapping, then a sample of drifted records (masked)."""
    header = ("| mapping | system | links | hub | missing in system | not ingested | drifted "
              "| pending |")
    lines = ["# Reconciliation", "", header, "|---|---|---|---|---|---|---|---|"]
    for r in reports:
        lines.append(f"| {r.mapping} | {r.system_records} | {r.links} | {r.hub_records} | "
                     f"{r.missing_in_system} | {r.not_ingested} | {r.drifted} | {r.pending} |")
    for r in reports:
        if not r.sample:
            continue
        lines += ["", f"## {r.mapping}: sample", "", "| kind | system id | hub record | fields |",
                  "|---|---|---|---|"]
        for d in r.sample:
            fields = ", ".join(f"{f} ({'/'.join(s)})" for f, s in d.fields.items())
            lines.append(f"| {d.kind} | {d.system_id} | {d.record_id or ''} | {fields} |")
    return "\n".join(lines) + "\n"


__all__ = ["DriftedRecord", "ReconcileError", "ReconcileReport", "checksum", "reconcile",
           "render_markdown"]
