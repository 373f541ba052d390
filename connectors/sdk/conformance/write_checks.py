"""Checks of writes: one result per op, in order, each with the system's id."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from connectors.sdk.base import Connector
from connectors.sdk.conformance.errors import ConformanceError
from connectors.sdk.conformance.reading import read_all
from connectors.sdk.types import JSON, StreamSpec, WriteMode, WriteOp, WriteResult

__all__ = ["check_writes"]


def _results(connector: Connector, spec: StreamSpec, ops: Sequence[WriteOp],
             what: str) -> list[WriteResult]:
    name = type(connector).__name__
    results: list[WriteResult] = []
    size = max(spec.write_batch_size, 1)
    for start in range(0, len(ops), size):
        batch = list(ops[start:start + size])
        got = connector.write(spec.name, batch)
        if not isinstance(got, list):
            raise ConformanceError(f"{name}.write({spec.name!r}) for {what} returned a "
                                   f"{type(got).__name__}, not a list of WriteResult")
        if len(got) != len(batch):
            raise ConformanceError(f"{name}.write({spec.name!r}) for {what} returned "
                                   f"{len(got)} result(s) for {len(batch)} op(s): one result "
                                   "per op, in order, failures included")
        for i, result in enumerate(got):
            n = start + i
            if not isinstance(result, WriteResult):
                raise ConformanceError(f"{name}.write({spec.name!r}) {what}: result {n} is a "
                                       f"{type(result).__name__}, not a WriteResult")
            if not result.ok:
                err = result.error
                why = f"{err.category.value}: {err.message}" if err else "no error given"
                raise ConformanceError(f"{name}.write({spec.name!r}) {what}: op {n} failed "
                                       f"({why}); write_samples must hold values the vendor "
                                       "accepts")
            if not result.id:
                raise ConformanceError(f"{name}.write({spec.name!r}) {what}: result {n} is ok "
                                       "but carries no id")
        results += got
    return results


def _read_back(connector: Connector, spec: StreamSpec, ids: Sequence[str]) -> dict[str, JSON]:
    try:
        records = connector.fetch(spec.name, list(ids))
    except NotImplementedError:
        records = read_all(connector, spec.name, None).records
    found: dict[str, JSON] = {}
    for record in records:
        try:
            found[spec.record_id(record)] = record
        except KeyError:
            continue
    return found


def _score(record: Mapping[str, Any], sample: Mapping[str, Any]) -> int:
    return sum(1 for k, v in sample.items() if record.get(k) == v)


def check_writes(connector: Connector, stream: str,
                 samples: Sequence[Mapping[str, Any]]) -> None:
    """Creates, then updates, ``samples``; checks results one per op, in order, with ids.

    Order is proven, not assumed: each created id is read back (``fetch``, or a full read)
    and must hold the values of the op at the same position; updates must answer with the
    ids they were given, in the order given.

    Args:
        connector: A connector on the working config.
        stream: The stream to write.
        samples: At least two records (system field names) the vendor accepts, differing
            in at least one field the vendor stores unchanged.

    Raises:
        ConformanceError: a missing, extra, failed, id-less or misplaced result.
    """
    spec = connector.stream(stream)
    name = type(connector).__name__
    if len(samples) < 2 or any(dict(a) == dict(b) for i, a in enumerate(samples)
                               for b in samples[i + 1:]):
        raise ConformanceError(f"write_samples[{stream!r}] needs at least two different "
                               "records, so the order of the results can be checked")
    if WriteMode.CREATE in spec.write_modes:
        mode = WriteMode.CREATE
    elif WriteMode.UPSERT in spec.write_modes:
        mode = WriteMode.UPSERT
    else:
        raise ConformanceError(f"stream {stream!r} accepts neither create nor upsert, so "
                               "write_samples cannot be written; leave it out of write_samples")
    run = uuid.uuid4().hex[:8]
    ops = [WriteOp(mode=mode, values=dict(s), ref=f"conformance:{run}:{i}")
           for i, s in enumerate(samples)]
    created = _results(connector, spec, ops, f"{mode.value} of write_samples")
    ids = [str(r.id) for r in created]
    if len(set(ids)) != len(ids):
        raise ConformanceError(f"{name}.write({stream!r}): the {mode.value} of "
                               f"{len(samples)} different records returned repeated ids {ids}")
    stored = _read_back(connector, spec, ids)
    for i, rid in enumerate(ids):
        record = stored.get(rid)
        if record is None:
            raise ConformanceError(f"{name}.write({stream!r}): result {i} has id {rid!r}, "
                                   "but no record with that id can be read back")
        scores = [_score(record, s) for s in samples]
        best = max(scores)
        if best == 0:
            raise ConformanceError(f"{name}.write({stream!r}): record {rid!r} of result {i} "
                                   "holds none of the values written")
        if scores[i] < best:
            other = scores.index(best)
            raise ConformanceError(
                f"{name}.write({stream!r}): result {i} has id {rid!r}, which holds the values "
                f"of op {other}: results must come in the order of the ops")
    if WriteMode.UPDATE not in spec.write_modes:
        return
    updates = [WriteOp(mode=WriteMode.UPDATE, id=rid, values=dict(samples[i]))
               for i, rid in enumerate(ids)]
    updated = _results(connector, spec, updates, "update of the created records")
    answered = [str(r.id) for r in updated]
    if answered != ids:
        first = next(i for i, (a, b) in enumerate(zip(answered, ids, strict=True)) if a != b)
        raise ConformanceError(f"{name}.write({stream!r}): update result {first} has id "
                               f"{answered[first]!r} for op on {ids[first]!r}: results must "
                               "come in the order of the ops")
