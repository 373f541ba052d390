"""Opportunities and their contact roles: the fields Salesforce derives from the stage, and
the deterministic seeded deals of the demo org.

Vendor behaviour relied on [S: Object Reference, Opportunity]: ``IsClosed`` and ``IsWon``
are read-only and follow the stage (Closed Won: both true; Closed Lost: closed, not won);
``Probability`` takes the stage's default when the stage changes and no probability is sent
with it; ``LastStageChangeDate`` is stamped when the stage changes (and on create).
Adding or removing a contact role does not touch the opportunity's ``SystemModstamp`` [U:
the sources disagree; this is the conservative reading for an incremental reader].

Seeded deals (the demo's sales pipeline), for an org with ``c`` seeded contacts:

* ``c // 2`` opportunities; opportunity ``i`` belongs to contact ``i - (i + 1) // 10``, so
  every tenth opportunity is a second deal of the previous one's person;
* stages cycle through :data:`STAGE_CYCLE` (open, won and lost deals side by side); a lost
  deal carries a ``LossReason__c``;
* every opportunity has its person as the primary contact role (``Decision Maker``); every
  seventh one (``i % 7 == 3``) also has the next contact as a non-primary ``Evaluator``.
  Primary roles are contact-role records ``0..n-1``, the extra ones follow.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sandbox.salesforce.ids import make_id
from sandbox.salesforce.schema import LOSS_REASONS, OPPORTUNITY_STAGES
from sandbox.salesforce.store import SEED_END, SEED_START, format_ts
from sandbox.seed import Person

__all__ = ["STAGE_CYCLE", "OpportunitySeed", "RoleSeed", "contact_of", "derive_stage_fields",
           "extra_role_opportunities"]

Record = dict[str, Any]
_PROBABILITY = dict(OPPORTUNITY_STAGES)
STAGE_CYCLE = ("Prospecting", "Qualification", "Closed Won", "Needs Analysis", "Closed Lost",
               "Proposal/Price Quote", "Value Proposition", "Closed Lost", "Closed Won",
               "Negotiation/Review")
"""Stage of seeded opportunity ``i`` is ``STAGE_CYCLE[i % 10]``: opportunities 8 and 9 of
each ten share a person, one won and one still open (an upsell)."""
_PRODUCTS = ("基幹システム刷新", "MA導入", "SFA導入", "クラウド移行", "セキュリティ診断",
             "データ分析基盤", "保守契約更新")
_SPAN_MS = int((SEED_END - SEED_START).total_seconds() * 1000)


def derive_stage_fields(record: Record, before: Record | None, values: Mapping[str, Any]) -> None:
    """Set the stage-derived fields of an opportunity being saved, in place.

    Args:
        record: The record as it will be stored (stamps already set).
        before: The stored record before this write, None on create.
        values: The fields this write sent.
    """
    stage = record.get("StageName")
    record["IsClosed"] = stage in ("Closed Won", "Closed Lost")
    record["IsWon"] = stage == "Closed Won"
    if before is None or before.get("StageName") != stage:
        record["LastStageChangeDate"] = record["SystemModstamp"]
        if "Probability" not in values and stage in _PROBABILITY:
            record["Probability"] = float(_PROBABILITY[stage])


def contact_of(opportunity: int) -> int:
    """The seeded contact index of seeded opportunity ``opportunity``."""
    return opportunity - (opportunity + 1) // 10


def extra_role_opportunities(count: int) -> range:
    """Seeded opportunities that have a second (non-primary) contact role."""
    return range(3, count, 7)


def _seed_stamp(index: int, count: int) -> str:
    # The store stamps seeded record i at the same point of the seed window.
    return format_ts(SEED_START + timedelta(milliseconds=index * _SPAN_MS // max(count, 1)))


@dataclass
class OpportunitySeed:
    """Seeded opportunities of the contacts ``contact_people`` returns.

    Attributes:
        count: Number of opportunities.
        contact_people: ``(start, stop)`` → the seeded contacts' people.
        account_of: Company domain → Account id.
        owner_ids: Sales reps who own the deals.
    """

    count: int
    contact_people: Callable[[int, int], list[Person]]
    account_of: Mapping[str, str]
    owner_ids: tuple[str, ...]

    def rows(self, start: int, stop: int) -> list[Record]:
        if start >= stop:
            return []
        first = contact_of(start)
        persons = self.contact_people(first, contact_of(stop - 1) + 1)
        return [self._row(i, persons[contact_of(i) - first]) for i in range(start, stop)]

    def _row(self, i: int, p: Person) -> Record:
        stage = STAGE_CYCLE[i % len(STAGE_CYCLE)]
        stamp = _seed_stamp(i, self.count)
        closed = stage.startswith("Closed")
        changed = date.fromisoformat(stamp[:10])
        close = changed if closed else changed + timedelta(days=30 + (i * 13) % 90)
        return {
            # Numbered: a company often has several deals for the same product.
            "Name": f"{p.company.name} {_PRODUCTS[i % len(_PRODUCTS)]} #{i + 1}",
            "AccountId": self.account_of.get(p.company.domain),
            "StageName": stage, "Probability": float(_PROBABILITY[stage]),
            "IsClosed": closed, "IsWon": stage == "Closed Won",
            "Amount": float((5 + (i * 37) % 96) * 100_000),
            "CloseDate": close.isoformat(),
            "LossReason__c": LOSS_REASONS[(i // 3) % len(LOSS_REASONS)]
            if stage == "Closed Lost" else None,
            "LeadSource": p.lead_source,
            "CampaignId": make_id("701", 1 + i % 4) if i % 3 == 0 else None,
            "LastStageChangeDate": stamp,
            "OwnerId": self.owner_ids[i % len(self.owner_ids)],
            "CreatedDate": p.created_at.replace("Z", ".000+0000"),
        }


@dataclass
class RoleSeed:
    """Seeded contact roles of :class:`OpportunitySeed`'s opportunities.

    Attributes:
        opportunities: Number of seeded opportunities.
        contacts: Number of seeded contacts.
    """

    opportunities: int
    contacts: int

    @property
    def count(self) -> int:
        return self.opportunities + len(extra_role_opportunities(self.opportunities))

    def rows(self, start: int, stop: int) -> list[Record]:
        extra = extra_role_opportunities(self.opportunities)
        out = []
        for j in range(start, stop):
            if j < self.opportunities:
                opp, contact, primary = j, contact_of(j), True
            else:
                opp = extra[j - self.opportunities]
                contact, primary = (contact_of(opp) + 1) % self.contacts, False
            out.append({"OpportunityId": make_id("006", opp + 1),
                        "ContactId": make_id("003", contact + 1), "IsPrimary": primary,
                        "Role": "Decision Maker" if primary else "Evaluator"})
        return out
