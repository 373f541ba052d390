"""Batched reads the rules need from one store transaction.

Every method takes many ids and runs a bounded number of queries (IN lists in chunks), never
one per record. Two small indexes are kept in the ``match_keys`` table under names no mapping
uses (``rules:...``), so lookups the engine does on every run stay indexed:

* ``activity`` / ``rules:person``: ``email:<normalised e-mail>`` and ``id:<lead id>`` of the
  person an activity is about, so a lead's activities are found without scanning them all;
* ``alert`` / ``rules:alert``: the alert's deterministic id (rule + lead + trigger), so a
  rerun never raises the same alert twice; ``alert`` / ``rules:lead``: the lead it is about.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import and_, select

from renkei.mapping.normalize import email_key
from renkei.store import HubRecord, Tx
from renkei.store import schema as t

PERSON_KEY = "rules:person"
ALERT_KEY = "rules:alert"
ALERT_LEAD_KEY = "rules:lead"
PAGE = 1000


def alert_id(rule: str, lead_id: int, trigger: str) -> str:
    """The deterministic id of an alert: the same rule, lead and trigger give the same id."""
    return hashlib.sha256(f"{rule}\x1f{lead_id}\x1f{trigger}".encode()).hexdigest()[:32]


def person_keys(activity: dict[str, Any]) -> list[str]:
    """Index values of the person an activity is about."""
    keys = []
    lead_id = activity.get("lead_id")
    if isinstance(lead_id, str) and lead_id.strip().isdigit():
        keys.append(f"id:{int(lead_id)}")
    email = activity.get("email")
    if isinstance(email, str) and email.strip():
        keys.append(f"email:{email_key(email)}")
    return keys


def lead_person_keys(lead: HubRecord) -> list[str]:
    keys = [f"id:{lead.id}"]
    email = lead.data.get("email")
    if isinstance(email, str) and email.strip():
        keys.append(f"email:{email_key(email)}")
    return keys


class RulesData:
    """Reads for one rules pass, all batched.

    Args:
        tx: The transaction.
        email_keys: Names of the lead match keys holding the normalised e-mail.
    """

    def __init__(self, tx: Tx, email_keys: Sequence[str]):
        self.tx = tx
        self.email_keys = tuple(email_keys)

    def records(self, entity: str, ids: Iterable[int]) -> dict[int, HubRecord]:
        """Hub records of ``entity`` by id (ids of other entities are dropped)."""
        found = self.tx.records.get_many(ids)
        return {rid: r for rid, r in found.items() if r.entity == entity}

    def index_activities(self, activities: Sequence[HubRecord]) -> None:
        """Keep the person index of these activities current."""
        if activities:
            self.tx.match_keys.replace(
                "activity", {a.id: [(PERSON_KEY, k) for k in person_keys(a.data)]
                             for a in activities}, names=[PERSON_KEY])

    def leads_of(self, activities: Sequence[HubRecord]) -> dict[int, int]:
        """Activity id → lead id: by the activity's ``lead_id``, else its e-mail."""
        out: dict[int, int] = {}
        by_email: dict[str, list[int]] = defaultdict(list)
        wanted_ids: dict[int, int] = {}
        for a in activities:
            lead_id = a.data.get("lead_id")
            if isinstance(lead_id, str) and lead_id.strip().isdigit():
                wanted_ids[a.id] = int(lead_id)
            elif isinstance(a.data.get("email"), str) and a.data["email"].strip():
                by_email[email_key(a.data["email"])].append(a.id)
        existing = self.records("lead", wanted_ids.values())
        out.update({aid: lid for aid, lid in wanted_ids.items() if lid in existing})
        if by_email:
            found = self.tx.match_keys.find(
                "lead", [(name, e) for name in self.email_keys for e in by_email])
            for (_, value), ids in sorted(found.items()):
                for aid in by_email.get(value, []):
                    out.setdefault(aid, ids[0])
        return out

    def activities_of(self, leads: Sequence[HubRecord]) -> dict[int, list[HubRecord]]:
        """Lead id → its activities (through the person index), newest first."""
        owner_of: dict[str, int] = {}
        for lead in leads:
            for key in lead_person_keys(lead):
                owner_of.setdefault(key, lead.id)
        if not owner_of:
            return {}
        found = self.tx.match_keys.find("activity", [(PERSON_KEY, k) for k in owner_of])
        ids_of: dict[int, set[int]] = defaultdict(set)
        for (_, key), ids in found.items():
            ids_of[owner_of[key]].update(ids)
        records = self.records("activity", {i for ids in ids_of.values() for i in ids})
        return {lid: sorted((records[i] for i in ids if i in records),
                            key=lambda r: str(r.data.get("occurred_at") or ""), reverse=True)
                for lid, ids in ids_of.items()}

    def accounts_of(self, leads: Sequence[HubRecord]) -> dict[int, dict[str, Any]]:
        """Lead id → the data of its hub account (``account_id``), when there is one."""
        wanted = {lead.id: int(str(lead.data["account_id"])) for lead in leads
                  if str(lead.data.get("account_id") or "").strip().isdigit()}
        accounts = self.records("account", wanted.values())
        return {lid: accounts[aid].data for lid, aid in wanted.items() if aid in accounts}

    def existing_alerts(self, ids: Iterable[str]) -> set[str]:
        """Which of these deterministic alert ids already exist."""
        found = self.tx.match_keys.find("alert", [(ALERT_KEY, i) for i in ids])
        return {value for (_, value), rids in found.items() if rids}

    def alerts_of(self, lead_ids: Iterable[int]) -> dict[int, list[HubRecord]]:
        """Lead id → the alerts raised about it."""
        found = self.tx.match_keys.find("alert", [(ALERT_LEAD_KEY, str(i)) for i in lead_ids])
        records = self.records("alert", {r for ids in found.values() for r in ids})
        out: dict[int, list[HubRecord]] = defaultdict(list)
        for (_, lead), ids in found.items():
            out[int(lead)].extend(records[i] for i in ids if i in records)
        return out

    def idle_leads(self, cutoff: str, *, after_id: int) -> list[tuple[HubRecord, str]]:
        """One page of owned leads not changed since ``cutoff``, with their change time."""
        r = t.records
        rows = self.tx.conn.execute(
            select(r.c.id, r.c.entity, r.c.data, r.c.field_meta, r.c.version, r.c.updated_at)
            .where(and_(r.c.entity == "lead", r.c.id > after_id, r.c.updated_at < cutoff,
                        r.c.data["owner"].as_string().is_not(None)))
            .order_by(r.c.id).limit(PAGE))
        return [(HubRecord(row.id, row.entity, dict(row.data), dict(row.field_meta), row.version),
                 str(row.updated_at)) for row in rows]


__all__ = ["ALERT_KEY", "ALERT_LEAD_KEY", "PERSON_KEY", "RulesData", "alert_id", "person_keys"]
