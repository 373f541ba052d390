"""Incremental read of leads: activities, then the changed leads by id.

Marketo has no "leads updated since" query over REST (REFERENCE.md, ``leads.md``). So a read
follows the activity log from a paging token and fetches the leads it names with
``filterType=id``, 300 ids per call. It runs in one of two modes.

**Catch-up** (a first read, or a state saved by an older version of this module):

1. a date-based paging token for ``start`` (``pagingtoken.json?sinceDatetime=``), or the
   tokens saved after the last committed page;
2. Get Lead Changes pages: New Lead and Change Data Value activities of the watched fields,
   filtered by Marketo, which keeps a long backlog's pages full;
3. then Get Deleted Leads pages from their own token, reported in ``Page.deleted``.

**Steady** (every read after a catch-up): one Get Lead Activities read of New Lead (12),
Change Data Value (13) and Delete Lead (37) together (``activities.json``, up to ten
``activityTypeIds`` [C] ``activities.md``). A sync that finds nothing new costs one call,
where the two endpoints above cost two. Change Data Value items of Get Lead Activities
name the field by ``primaryAttributeValueId`` (the Describe Leads id) and
``primaryAttributeValue`` (its display name) [S]; changes of unwatched fields are dropped here.

The last page of a catch-up saves the token Get Lead Changes ended on, with the activity
types it stands for; a steady read continues from it with Get Lead Activities. Both are
positions in the one activity log (the docs' tokens decode to ``<date>,<activity id>``
whichever endpoint issued them [S]). Deletes between that token and the end of the
Get Deleted Leads pages are then reported twice, which is harmless; nothing is skipped.
A state whose types do not cover the ones wanted (``include_deleted`` switched on) goes
through a catch-up again, so deletes are read from the start as before.

Each page's state is the token after it, so the engine resumes right after the last page it
committed. A lead already yielded earlier in the same read with an ``updatedAt`` at or after
its newest activity on a later page is not fetched again; such a page still advances the
state.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from connectors.marketo.api import MarketoApi
from connectors.sdk import Page

__all__ = ["CHANGE_DATA_VALUE", "DELETE_LEAD", "ID_BATCH", "NEW_LEAD", "parse_time", "read_leads"]

ID_BATCH = 300
"""Ids per Get Leads call: the vendor's maximum of ``filterValues``."""

NEW_LEAD, CHANGE_DATA_VALUE, DELETE_LEAD = 12, 13, 37
"""Activity type ids (``activities.md``: 13 and 37 in its examples; 12 [S])."""

log = logging.getLogger("renkei.connectors.marketo")


def parse_time(value: Any) -> datetime | None:
    """A Marketo date-time (``...Z``, ``+0000`` or ``+00:00``) as an aware datetime; None when
    it is not one (naive values are taken as UTC)."""
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


def _note(newest: dict[int, datetime], lead_id: int, item: Mapping[str, Any]) -> None:
    stamp = parse_time(item.get("activityDate")) or datetime.max.replace(tzinfo=UTC)
    newest[lead_id] = max(newest.get(lead_id, stamp), stamp)


def _fetch(api: MarketoApi, newest: Mapping[int, datetime], fetched: dict[int, datetime],
           wanted: Sequence[str]) -> list[dict[str, Any]]:
    """The leads of ``newest`` not already yielded at or after their newest activity."""
    todo = [i for i, when in newest.items() if i not in fetched or fetched[i] < when]
    records: list[dict[str, Any]] = []
    for start_at in range(0, len(todo), ID_BATCH):
        batch = todo[start_at:start_at + ID_BATCH]
        by_id = {r.get("id"): r for r in api.leads_by_id(batch, wanted)}
        for lead_id in batch:  # activity order, oldest change first
            record = by_id.get(lead_id)
            if record is None:
                continue  # deleted since; its Delete Lead activity reports it
            full = {name: record.get(name) for name in wanted}
            records.append(full)
            updated = parse_time(full.get("updatedAt"))
            if updated is not None:
                fetched[lead_id] = updated
    return records


def _last_date(items: Sequence[Mapping[str, Any]], state: Mapping[str, Any]) -> Any:
    return items[-1].get("activityDate") if items else state.get("last_activity_at")


def read_leads(
    api: MarketoApi,
    *,
    state: Mapping[str, Any] | None,
    fields: Sequence[str],
    watch: Sequence[str],
    page_size: int,
    start: str,
    include_deleted: bool,
    watch_ids: Collection[int] = (),
    watch_titles: Collection[str] = (),
) -> Iterator[Page]:
    """Pages of leads changed since ``state`` (or since ``start`` when there is none).

    Args:
        api: The Marketo calls.
        state: The state of the last committed page, or None.
        fields: Lead fields to return (every record carries each, null when unset).
        watch: Fields whose changes make a lead count as changed (REST names).
        page_size: Activities per page (at most 300).
        start: ISO datetime a first read starts from.
        include_deleted: Also report deleted leads.
        watch_ids: Describe Leads ids of the ``watch`` fields (steady reads match on them).
        watch_titles: Their display names, for items that carry no field id.
    """
    state = dict(state or {})
    types = [NEW_LEAD, CHANGE_DATA_VALUE, *([DELETE_LEAD] if include_deleted else [])]
    wanted = list(dict.fromkeys(["id", *fields, "updatedAt"]))
    covered = state.get("activity_types")
    if (state.get("next_page_token") and isinstance(covered, list)
            and set(types) <= set(covered)):
        yield from _steady(api, state, wanted, types, page_size, frozenset(watch_ids),
                           frozenset(watch_titles))
    else:
        yield from _catch_up(api, state, wanted, watch, types, page_size, start,
                             include_deleted)


def _steady(api: MarketoApi, state: dict[str, Any], wanted: Sequence[str], types: list[int],
            page_size: int, watch_ids: frozenset[int], watch_titles: frozenset[str],
            ) -> Iterator[Page]:
    token = str(state["next_page_token"])
    fetched: dict[int, datetime] = {}
    more = True
    while more:
        items, token, more = api.activities(token, types, page_size)
        newest: dict[int, datetime] = {}
        gone: list[str] = []
        for item in items:
            lead_id, kind = _lead_id(item), item.get("activityTypeId")
            if lead_id is None:
                continue
            if kind == DELETE_LEAD:
                newest.pop(lead_id, None)  # nothing left to fetch
                gone.append(str(lead_id))
            elif kind == NEW_LEAD or (kind == CHANGE_DATA_VALUE and _watched(
                    item, watch_ids, watch_titles)):
                _note(newest, lead_id, item)
        records = _fetch(api, newest, fetched, wanted)
        state = {"next_page_token": token, "last_activity_at": _last_date(items, state),
                 "activity_types": types}
        log.debug("marketo leads: %d activities, %d leads fetched, %d deleted, more=%s",
                  len(items), len(records), len(gone), more)
        yield Page(records=records, state=dict(state), deleted=list(dict.fromkeys(gone)))


def _watched(item: Mapping[str, Any], ids: frozenset[int], titles: frozenset[str]) -> bool:
    # Either key will do: a display name shared with an unwatched field costs one fetch too
    # many, never a missed change (and a describe without ids still works by name).
    return (item.get("primaryAttributeValueId") in ids
            or item.get("primaryAttributeValue") in titles)


def _catch_up(api: MarketoApi, state: dict[str, Any], wanted: Sequence[str],
              watch: Sequence[str], types: list[int], page_size: int, start: str,
              include_deleted: bool) -> Iterator[Page]:
    token = state.get("next_page_token")
    deleted_token = state.get("deleted_page_token")
    if not token or (include_deleted and not deleted_token):
        first = api.paging_token(start)
        token = token or first
        deleted_token = deleted_token or first
    # Only the last page stands for the steady mode: a resume from any earlier one must
    # finish the catch-up, deletes included.
    legacy = {"last_activity_at": state.get("last_activity_at")}
    fetched: dict[int, datetime] = {}
    more = True
    while more:
        items, token, more = api.lead_changes(str(token), watch, page_size)
        newest: dict[int, datetime] = {}
        for item in items:
            lead_id = _lead_id(item)
            if lead_id is not None:
                _note(newest, lead_id, item)
        records = _fetch(api, newest, fetched, wanted)
        legacy = {"next_page_token": token, "last_activity_at": _last_date(items, legacy)}
        if include_deleted:
            legacy["deleted_page_token"] = deleted_token
        log.debug("marketo leads: %d activities, %d leads fetched, more=%s",
                  len(items), len(records), more)
        done = not more and not include_deleted
        yield Page(records=records, state=_steady_state(legacy, types) if done else dict(legacy))
    if not include_deleted:
        return
    more = True
    while more:
        items, deleted_token, more = api.deleted_leads(str(deleted_token), page_size)
        gone = list(dict.fromkeys(str(i) for i in map(_lead_id, items) if i is not None))
        legacy = {**legacy, "deleted_page_token": deleted_token}
        yield Page(records=[], state=dict(legacy) if more else _steady_state(legacy, types),
                   deleted=gone)


def _steady_state(legacy: Mapping[str, Any], types: list[int]) -> dict[str, Any]:
    return {"next_page_token": legacy["next_page_token"],
            "last_activity_at": legacy.get("last_activity_at"), "activity_types": types}
