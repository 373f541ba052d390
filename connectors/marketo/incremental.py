"""Incremental read of leads: lead-change activities, then the changed leads by id.

Marketo has no "leads updated since" query over REST (REFERENCE.md, ``leads.md``). So:

1. a date-based paging token for the start (``pagingtoken.json?sinceDatetime=``), or the
   token saved after the last committed page;
2. Get Lead Changes pages (New Lead and Change Data Value activities of the watched fields);
3. the lead ids of each page, deduplicated, fetched with ``filterType=id`` in batches of 300;
4. one :class:`Page` per activity page, whose state is the token after it, so the engine
   resumes right after the last page it committed;
5. then Get Deleted Leads pages from their own token, reported in ``Page.deleted``.

A lead already yielded earlier in the same read with an ``updatedAt`` at or after its newest
activity on a later page is not fetched again; such a page still advances the state.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from connectors.marketo.api import MarketoApi
from connectors.sdk import Page

__all__ = ["ID_BATCH", "read_leads"]

ID_BATCH = 300
"""Ids per Get Leads call: the vendor's maximum of ``filterValues``."""

log = logging.getLogger("renkei.connectors.marketo")


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    text = value.replace("Z", "+00:00")
    if len(text) >= 5 and text[-5] in "+-" and text[-3] != ":":
        text = text[:-2] + ":" + text[-2:]  # 2014-09-17T22:31:49+0000 (the docs show both)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _lead_id(item: Mapping[str, Any]) -> int | None:
    value = item.get("leadId")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def read_leads(
    api: MarketoApi,
    *,
    state: Mapping[str, Any] | None,
    fields: Sequence[str],
    watch: Sequence[str],
    page_size: int,
    start: str,
    include_deleted: bool,
) -> Iterator[Page]:
    """Pages of leads changed since ``state`` (or since ``start`` when there is none).

    Args:
        api: The Marketo calls.
        state: The state of the last committed page, or None.
        fields: Lead fields to return (every record carries each, null when unset).
        watch: Fields whose changes make a lead count as changed.
        page_size: Activities per Get Lead Changes call (at most 300).
        start: ISO datetime a first read starts from.
        include_deleted: Also page through Get Deleted Leads.
    """
    state = dict(state or {})
    token = state.get("next_page_token")
    deleted_token = state.get("deleted_page_token")
    if not token or (include_deleted and not deleted_token):
        first = api.paging_token(start)
        token = token or first
        deleted_token = deleted_token or first
    wanted = list(dict.fromkeys(["id", *fields, "updatedAt"]))
    fetched: dict[int, datetime] = {}
    more = True
    while more:
        items, next_token, more = api.lead_changes(token, watch, page_size)
        newest: dict[int, datetime] = {}
        for item in items:
            lead_id, when = _lead_id(item), _when(item.get("activityDate"))
            if lead_id is None:
                continue
            stamp = when or datetime.max.replace(tzinfo=UTC)
            newest[lead_id] = max(newest.get(lead_id, stamp), stamp)
        todo = [i for i, when in newest.items() if i not in fetched or fetched[i] < when]
        records: list[dict[str, Any]] = []
        for start_at in range(0, len(todo), ID_BATCH):
            batch = todo[start_at:start_at + ID_BATCH]
            by_id = {r.get("id"): r for r in api.leads_by_id(batch, wanted)}
            for lead_id in batch:  # activity order, oldest change first
                record = by_id.get(lead_id)
                if record is None:
                    continue  # deleted since; Get Deleted Leads reports it
                full = {name: record.get(name) for name in wanted}
                records.append(full)
                updated = _when(full.get("updatedAt"))
                if updated is not None:
                    fetched[lead_id] = updated
        last = items[-1].get("activityDate") if items else state.get("last_activity_at")
        token = next_token
        state = {**state, "next_page_token": token, "last_activity_at": last}
        if include_deleted:
            state["deleted_page_token"] = deleted_token
        log.debug("marketo leads: %d activities, %d leads fetched, more=%s",
                  len(items), len(records), more)
        yield Page(records=records, state=dict(state))
    if not include_deleted:
        return
    more = True
    while more:
        items, deleted_token, more = api.deleted_leads(str(deleted_token), page_size)
        gone = list(dict.fromkeys(str(i) for i in map(_lead_id, items) if i is not None))
        state = {**state, "deleted_page_token": deleted_token}
        yield Page(records=[], state=dict(state), deleted=gone)
