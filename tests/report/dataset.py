"""A hand-built hub: 6 leads, 9 activities, 3 deals (2 won, 1 lost), written into a store.

The expected numbers in the tests are worked out by hand from this data (see the comments
there), never by calling the report code.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from renkei.store import Store
from renkei.store import schema as t

OWNER_A = "tanaka@sales.example.co.jp"  # an owner id that is an e-mail: must be masked
OWNER_B = "U002"


def _lead(email: str, source: str | None, last: str | None, campaign: str | None, stage: str,
          created: str, mql: str | None, sql: str | None, score: int | None,
          owner: str | None) -> dict[str, Any]:
    return {"email": email, "last_name": "山田", "lead_source": source,
            "last_touch_channel": last, "campaign": campaign, "lifecycle_stage": stage,
            "created_at": created, "mql_at": mql, "sql_at": sql, "score": score, "owner": owner}


LEADS = [
    # L1: seminar → webinar, SQL, won (D1)
    _lead("a@cust.example.jp", "seminar", "webinar", "春セミナー2026", "sql",
          "2026-01-05T01:00:00Z", "2026-02-01T00:00:00Z", "2026-02-10T00:00:00Z", 75, OWNER_A),
    # L2: web → webinar, customer, won (D1)
    _lead("b@cust.example.jp", "web", "webinar", "ウェビナー2月", "customer",
          "2026-01-10T00:00:00Z", "2026-02-05T00:00:00Z", "2026-02-15T00:00:00Z", 95, OWNER_A),
    # L3: exhibition → document_request, MQL only; its deal D3 was lost
    _lead("c@cust.example.jp", "exhibition", "document_request", "展示会2026", "mql",
          "2026-01-15T00:00:00Z", "2026-02-20T00:00:00Z", None, 40, OWNER_B),
    # L4: web, never qualified, no touches
    _lead("d@cust.example.jp", "web", None, None, "lead",
          "2026-02-01T00:00:00Z", None, None, 10, None),
    # L5: exhibition → inquiry, stage opportunity with no mql_at/sql_at recorded, won (D2)
    _lead("e@cust.example.jp", "exhibition", "inquiry", "展示会2026", "opportunity",
          "2026-01-20T00:00:00Z", None, None, 65, OWNER_B),
    # L6: referral, disqualified, no score
    _lead("f@cust.example.jp", "referral", None, None, "disqualified",
          "2026-03-01T00:00:00Z", None, None, None, None),
]


def _act(sid: str, type_: str, channel: str | None, at: str, *, lead_id: int | None = None,
         email: str | None = None) -> dict[str, Any]:
    return {"source_id": sid, "type": type_, "channel": channel, "occurred_at": at,
            "lead_id": str(lead_id) if lead_id is not None else None, "email": email,
            "campaign": "x"}


def activities(ids: list[int]) -> list[dict[str, Any]]:
    """The 9 activities; ``ids`` are the hub ids of L1..L6."""
    l1, l2, l3, _l4, l5, _l6 = ids
    return [
        _act("A1", "form_fill", "seminar", "2026-01-05T01:00:00Z", lead_id=l1),
        # by e-mail only, in another case: still L1's
        _act("A2", "webinar_attended", "webinar", "2026-01-25T05:00:00Z",
             email="A@Cust.Example.jp"),
        _act("A3", "email_open", "email", "2026-01-26T00:00:00Z", lead_id=l1),  # not a touch
        _act("A4", "web_visit", "web", "2026-03-01T00:00:00Z", lead_id=l1),
        _act("A5", "web_visit", "web", "2026-01-10T00:00:00Z", lead_id=l2),
        _act("A6", "webinar_registered", "webinar", "2026-02-01T00:00:00Z", lead_id=l2),
        # 2026-04-01 01:00 in Tokyo: after D1 closed (2026-03-31), though 03-31 in UTC
        _act("A7", "document_download", "document_request", "2026-03-31T16:00:00Z",
             lead_id=l2),
        _act("A8", "form_fill", "exhibition", "2026-01-20T00:00:00Z", lead_id=l5),
        _act("A9", "document_download", "document_request", "2026-02-10T00:00:00Z",
             lead_id=l3),
    ]


DEALS = [
    {"name": "D1", "is_won": True, "is_closed": True, "amount": 1000001,
     "close_date": "2026-03-31", "contact_emails": ["A@cust.example.jp", "b@cust.example.jp"],
     "owner": OWNER_A, "lead_source": "seminar", "campaign": "春セミナー2026"},
    {"name": "D2", "is_won": True, "is_closed": True, "amount": 500000.0,
     "close_date": "2026-03-15", "contact_emails": ["e@cust.example.jp"], "owner": OWNER_B},
    {"name": "D3", "is_won": False, "is_closed": True, "amount": 300000,
     "close_date": "2026-03-20", "contact_emails": ["c@cust.example.jp"], "owner": OWNER_B},
]


def populate(store: Store) -> list[int]:
    """Write the data set (plus one deleted lead that must not count); returns L1..L6 ids."""
    with store.transaction() as tx:
        ids = tx.records.insert_many("lead", [(d, {}) for d in LEADS])
        gone = tx.records.insert_many("lead", [(_lead(
            "gone@cust.example.jp", "web", "web", None, "sql", "2026-01-02T00:00:00Z",
            "2026-01-03T00:00:00Z", "2026-01-04T00:00:00Z", 50, OWNER_B), {})])
        tx.conn.execute(update(t.records).where(t.records.c.id == gone[0]).values(deleted=True))
        tx.records.insert_many("activity", [(a, {}) for a in activities(ids)])
        tx.records.insert_many("deal", [(d, {}) for d in DEALS])
    return ids
