"""Reading the hub's leads, activities and deals for the report, a page at a time.

One SELECT per page of 1,000 records of one entity (ordered by id, keyset paging): the
report never queries per record. Only the fields the report needs are kept; e-mails are
held in memory to join people to activities and deals and never leave this package's
computations (no table carries them).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from sqlalchemy import and_, select

from renkei.report.config import parse_instant
from renkei.store import Store
from renkei.store import schema as t

PAGE = 1000


def norm_email(value: object) -> str | None:
    """E-mail as a join key: NFKC, trimmed, lower case; None if blank or not text."""
    if not isinstance(value, str):
        return None
    text = unicodedata.normalize("NFKC", value).strip().lower()
    return text or None


def _text(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def yen(value: object) -> int | None:
    """An amount as whole yen (half up), or None if missing or not a number."""
    if value is None or isinstance(value, bool):
        return None
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        return None
    if not d.is_finite():
        return None
    return int(d.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class Lead:
    """A person as the report needs them."""

    id: int
    email: str | None
    lead_source: str | None
    last_touch_channel: str | None
    campaign: str | None
    lifecycle_stage: str | None
    created_at: datetime | None
    mql_at: datetime | None
    sql_at: datetime | None
    score: int | None
    owner: str | None


@dataclass(frozen=True)
class Activity:
    """An activity: a touch if its type is a touch type and it has a channel."""

    key: str
    type: str | None
    channel: str | None
    campaign: str | None
    occurred_at: datetime | None
    lead_id: int | None
    email: str | None


@dataclass(frozen=True)
class Deal:
    """A deal: won or lost, its amount in whole yen, its contacts' e-mails."""

    id: int
    is_won: bool
    is_closed: bool
    amount: int | None
    close_date: date | None
    contact_emails: tuple[str, ...]
    owner: str | None
    lead_source: str | None
    campaign: str | None


@dataclass
class Dataset:
    """Everything the report reads from the store."""

    leads: list[Lead]
    activities: list[Activity]
    deals: list[Deal]
    queries: int = 0
    """SELECTs issued (one per page per entity), for tests and the summary."""


def _pages(store: Store, entity: str, counter: list[int]) -> Iterator[tuple[int, dict[str, Any],
                                                                          str]]:
    after = 0
    with store.transaction() as tx:
        while True:
            counter[0] += 1
            rows = tx.conn.execute(
                select(t.records.c.id, t.records.c.data, t.records.c.created_at)
                .where(and_(t.records.c.entity == entity, t.records.c.id > after,
                            t.records.c.deleted.is_(False)))
                .order_by(t.records.c.id).limit(PAGE)).all()
            for r in rows:
                yield int(r.id), dict(r.data), str(r.created_at)
            if len(rows) < PAGE:
                return
            after = int(rows[-1].id)


def _lead(rid: int, d: dict[str, Any], stored_at: str) -> Lead:
    return Lead(
        id=rid, email=norm_email(d.get("email")), lead_source=_text(d.get("lead_source")),
        last_touch_channel=_text(d.get("last_touch_channel")), campaign=_text(d.get("campaign")),
        lifecycle_stage=_text(d.get("lifecycle_stage")),
        # The capturing system's clock if it told us, else when the hub first stored them.
        created_at=parse_instant(d.get("created_at")) or parse_instant(stored_at),
        mql_at=parse_instant(d.get("mql_at")), sql_at=parse_instant(d.get("sql_at")),
        score=_int(d.get("score")), owner=_text(d.get("owner")))


def _activity(rid: int, d: dict[str, Any]) -> Activity:
    lead_id = d.get("lead_id")
    return Activity(
        key=_text(d.get("source_id")) or f"hub:{rid}", type=_text(d.get("type")),
        channel=_text(d.get("channel")), campaign=_text(d.get("campaign")),
        occurred_at=parse_instant(d.get("occurred_at")),
        lead_id=int(lead_id) if isinstance(lead_id, str) and lead_id.isdigit() else
        _int(lead_id), email=norm_email(d.get("email")))


def _deal(rid: int, d: dict[str, Any]) -> Deal:
    close: date | None = None
    if isinstance(d.get("close_date"), str):
        try:
            close = date.fromisoformat(d["close_date"][:10])
        except ValueError:
            close = None
    emails = d.get("contact_emails") if isinstance(d.get("contact_emails"), list) else []
    return Deal(
        id=rid, is_won=d.get("is_won") is True,
        is_closed=d.get("is_closed") is True or d.get("is_won") is True,
        amount=yen(d.get("amount")), close_date=close,
        contact_emails=tuple(dict.fromkeys(e for e in map(norm_email, emails or []) if e)),
        owner=_text(d.get("owner")), lead_source=_text(d.get("lead_source")),
        campaign=_text(d.get("campaign")))


def load_dataset(store: Store) -> Dataset:
    """Read every live lead, activity and deal, page by page."""
    counter = [0]
    leads = [_lead(i, d, s) for i, d, s in _pages(store, "lead", counter)]
    activities = [_activity(i, d) for i, d, _ in _pages(store, "activity", counter)]
    deals = [_deal(i, d) for i, d, _ in _pages(store, "deal", counter)]
    return Dataset(leads, activities, deals, queries=counter[0])
