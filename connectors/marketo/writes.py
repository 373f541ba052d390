"""Writes to the ``leads`` stream: ops grouped per vendor call, results mapped back in order.

* creates and upserts go as ``createOrUpdate`` by ``lookupField=email``: a rerun after a crash
  updates the lead the first run created instead of duplicating it;
* updates go as ``updateOnly`` by ``lookupField=id``: an update never creates a lead;
* at most 300 records per call (``leads.md``) [C], and fewer when the JSON body would pass
  the 1 MB payload limit (``error-codes.md``: HTTP 413) [C].
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from connectors.marketo.api import MarketoApi
from connectors.marketo.errors import record_error
from connectors.sdk import ErrorCategory, RecordError, WriteMode, WriteOp, WriteResult

__all__ = ["MAX_BODY", "MAX_RECORDS", "write_leads"]

MAX_RECORDS = 300
MAX_BODY = 900_000
"""Bytes of JSON per call we allow ourselves, below the vendor's 1 MB (1,048,576)."""

_ENVELOPE = len(json.dumps({"action": "createOrUpdate", "lookupField": "email", "input": []}))


def _chunks(items: list[tuple[int, dict[str, Any]]]) -> list[list[tuple[int, dict[str, Any]]]]:
    chunks: list[list[tuple[int, dict[str, Any]]]] = []
    current: list[tuple[int, dict[str, Any]]] = []
    size = _ENVELOPE
    for item in items:
        item_size = len(json.dumps(item[1], ensure_ascii=False).encode()) + 1
        if current and (len(current) >= MAX_RECORDS or size + item_size > MAX_BODY):
            chunks.append(current)
            current, size = [], _ENVELOPE
        current.append(item)
        size += item_size
    if current:
        chunks.append(current)
    return chunks


def _fail(category: ErrorCategory, message: str, field: str | None = None) -> WriteResult:
    return WriteResult.failure(RecordError(category, message, fields=(field,) if field else ()))


def write_leads(api: MarketoApi, ops: Sequence[WriteOp], *, hub_id_field: str | None = None,
                read_only: frozenset[str] = frozenset()) -> list[WriteResult]:
    """Write ``ops``; one result per op, in the order given.

    Args:
        api: The Marketo calls.
        ops: Creates, updates and upserts, in any mix.
        hub_id_field: A lead field that receives ``WriteOp.ref`` on creates, if configured.
        read_only: Fields the vendor manages; an op that sets one fails locally.

    Raises:
        ConnectorError: the whole call failed (rate limit, quota, outage...).
    """
    results: list[WriteResult | None] = [None] * len(ops)
    upserts: list[tuple[int, dict[str, Any]]] = []
    updates: list[tuple[int, dict[str, Any]]] = []
    for index, op in enumerate(ops):
        values = {k: v for k, v in op.values.items() if k != "id"}
        bad = next((k for k in values if k in read_only), None)
        if bad is not None:
            results[index] = _fail(ErrorCategory.VALIDATION, f"field '{bad}' is read-only", bad)
            continue
        if op.mode is WriteMode.UPDATE:
            if not op.id or not str(op.id).isdigit():
                results[index] = _fail(ErrorCategory.VALIDATION,
                                       "an update needs the Marketo lead id", "id")
                continue
            updates.append((index, {"id": int(str(op.id)), **values}))
            continue
        if not values.get("email"):
            # Without the lookup key an upsert could not find the lead on a rerun and would
            # create a second one.
            results[index] = _fail(ErrorCategory.VALIDATION,
                                   "a create needs an email (the upsert key)", "email")
            continue
        if hub_id_field and op.ref and hub_id_field not in values:
            values[hub_id_field] = op.ref
        upserts.append((index, values))
    for action, lookup, group in (("createOrUpdate", "email", upserts),
                                  ("updateOnly", "id", updates)):
        for chunk in _chunks(group):
            answers = api.sync_leads(action, lookup, [values for _, values in chunk])
            for (index, _), answer in zip(chunk, answers):
                results[index] = _result(answer)
    return [r if r is not None else _fail(ErrorCategory.UNKNOWN, "not written") for r in results]


def _result(answer: Any) -> WriteResult:
    if not isinstance(answer, dict):
        return _fail(ErrorCategory.UNKNOWN, "no result for this record")
    status = answer.get("status")
    lead_id = answer.get("id")
    if status in ("created", "updated") and lead_id is not None:
        return WriteResult.success(str(lead_id), created=status == "created")
    return WriteResult.failure(record_error(answer.get("reasons")))
