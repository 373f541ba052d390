"""Marketo static list membership for recycled people (``marketo_list`` in the outcomes file).

Runs after outbound in every sync (recycled people need their Marketo lead id, which the
lead mapping's links hold once Marketo has them). It reads the lead journal from its own
cursor (``rules:list:<id>``), keeps only leads whose ``lifecycle_stage`` changed, and:

* a ``recycled`` lead with a Marketo link that is not a member yet → added;
* a lead that is no longer ``recycled`` and was added by renkei → removed (reversible:
  a lost deal reopened and won takes the person out of the nurture list).

Membership renkei made is kept in the store (``match_keys`` ``lead`` / ``rules:list:<id>``),
so a second run sends nothing (idempotent without a check call per lead); the vendor calls
are idempotent too, so a run that dies between the call and the commit is safe to redo. A
recycled lead with no Marketo link yet stays pending in the cursor and is tried again on
the next run. Skipped 1004 (the lead is gone in Marketo) is reported and dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from renkei.project import Project
from renkei.rules.model import ListSync
from renkei.store import Store

log = logging.getLogger("renkei.rules.lists")
WINDOW = 5000
MAX_PENDING = 10000


class MembershipAnswer(Protocol):
    """One per-lead answer of a list call (see ``connectors.marketo.lists``)."""

    @property
    def lead_id(self) -> int: ...
    @property
    def status(self) -> str: ...
    @property
    def code(self) -> str | None: ...
    @property
    def message(self) -> str | None: ...
    @property
    def ok(self) -> bool: ...


class ListConnector(Protocol):
    """A connector that can change static list membership."""

    def add_to_list(self, list_id: int, lead_ids: Sequence[int]) -> Sequence[MembershipAnswer]:
        ...

    def remove_from_list(self, list_id: int,
                         lead_ids: Sequence[int]) -> Sequence[MembershipAnswer]: ...


@dataclass
class ListStats:
    """What one list pass did."""

    added: int = 0
    removed: int = 0
    pending: int = 0
    failed: list[str] = field(default_factory=list)


def key_name(target: ListSync) -> str:
    """The match key / cursor name that records renkei's membership of one list."""
    return f"rules:list:{target.list_id}"


def sync_list(project: Project, store: Store, target: ListSync, *,
              run_id: str | None = None) -> ListStats | None:
    """One pass; None when the project does not run ``target.mapping``'s connection.

    Raises:
        connectors.sdk.errors.ConnectorError: the vendor refused a whole call; nothing is
            recorded and the cursor stays, so the next run tries the same leads again.
    """
    mapping = next((m for m in project.mappings_for("lead") if m.name == target.mapping), None)
    if mapping is None:
        return None
    connector: Any = project.connector(mapping.connection)
    if not callable(getattr(connector, "add_to_list", None)):
        raise TypeError(f"connection {mapping.connection!r} cannot change list membership")
    name = key_name(target)
    stats = ListStats()
    with store.transaction() as tx:
        state = tx.cursors.get(name, "out") or {}
        seq = int(state.get("seq", 0))
        wanted = {int(i) for i in state.get("pending", [])}
        while True:
            entries = tx.journal.read("lead", after=seq, limit=WINDOW)
            wanted.update(e.record_id for e in entries if "lifecycle_stage" in e.fields)
            if len(entries) < WINDOW:
                seq = entries[-1].seq if entries else seq
                break
            seq = entries[-1].seq
        leads = tx.records.get_many(wanted)
        links = tx.links.by_record_ids(mapping.name, wanted)
        found = tx.match_keys.find("lead", [(name, str(i)) for i in wanted])
        members = {int(value) for (_, value), ids in found.items() if ids}
    add: dict[int, int] = {}
    remove: dict[int, int] = {}
    pending: list[int] = []
    for lead_id in sorted(wanted):
        lead = leads.get(lead_id)
        recycled = lead is not None and lead.data.get("lifecycle_stage") == "recycled"
        link = links.get(lead_id)
        if recycled and lead_id not in members:
            if link is None or not link.system_id.isdigit():
                pending.append(lead_id)
            else:
                add[int(link.system_id)] = lead_id
        elif not recycled and lead_id in members and link is not None \
                and link.system_id.isdigit():
            remove[int(link.system_id)] = lead_id
    joined: list[int] = []
    left: list[int] = []
    for ids, call, done in ((add, connector.add_to_list, joined),
                            (remove, connector.remove_from_list, left)):
        if not ids:
            continue
        for answer in call(target.list_id, sorted(ids)):
            lead_id = ids[answer.lead_id]
            if answer.ok:
                done.append(lead_id)
            else:
                stats.failed.append(f"lead {lead_id} (Marketo {answer.lead_id}): "
                                    f"{answer.code} {answer.message}")
    stats.added, stats.removed, stats.pending = len(joined), len(left), len(pending)
    with store.transaction() as tx:
        tx.match_keys.replace("lead", {**{i: [(name, str(i))] for i in joined},
                                       **{i: [] for i in left}}, names=[name])
        tx.cursors.set(name, "out", {"seq": seq, "pending": pending[:MAX_PENDING]})
    for failure in stats.failed:
        log.warning("list %s: %s", target.list_id, failure)
    return stats


__all__ = ["ListConnector", "ListStats", "MembershipAnswer", "key_name", "sync_list"]
