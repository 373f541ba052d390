"""Writes to one app: ops grouped per call, at most 100 records each, results in op order.

* **create** with a hub reference (``WriteOp.ref``) → ``PUT records.json`` with
  ``upsert: true`` and ``updateKey: {field: 連携ID, value: ref}``: a create repeated after a
  crash (or a timeout whose answer was lost) updates the record the first attempt made
  instead of making a second one, and is safe to resend. Without a ref → ``POST``.
* **upsert** → the same upsert call, keyed by the update-key value in ``values`` or the ref.
* **update** → ``PUT records.json`` with ``id`` and ``revision`` = ``WriteOp.version``
  (``-1``, no check, when the engine has none): kintone refuses the write if a person edited
  the record since renkei read it.

kintone applies a bulk call all or nothing, so one bad record would fail up to 99 good ones.
Record-level refusals are therefore attributed and the rest written again:

* 400 CB_VA01 with ``errors`` keyed ``records[i].<code>.value`` → record *i* fails
  (``duplicate`` for kintone's unique-value message, else ``validation``) with kintone's
  message verbatim and the blamed field;
* 409 GAIA_CO02 → one ``GET`` of ``$id`` and ``$revision`` of the batch's records finds the
  stale ones; they fail as ``conflict`` (retriable: the engine fetches, merges by policy and
  writes again) and the others are sent again;
* 404 GAIA_RE01 on an update → the same probe finds the records that are gone
  (``not_found``).

Every round removes at least one record, so a batch of *n* costs at most *n* + 1 calls and
usually one.

A CB_VA01 about the update key itself (the field was deleted, or no longer prohibits
duplicates) fails the batch as ``configuration`` (retriable) and sets
:attr:`AppWriter.form_refused`: the form the writer was given is out of date.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from connectors.kintone.api import MAX_WRITE, KintoneApi
from connectors.kintone.encode import EncodeError, encode_record
from connectors.kintone.errors import (
    CONFLICT,
    NOT_FOUND,
    VALIDATION,
    KintoneApiError,
    field_errors,
    field_gone,
    record_error,
)
from connectors.kintone.schema import ID, REVISION
from connectors.sdk import (
    ConfigurationError,
    ErrorCategory,
    RecordError,
    WriteMode,
    WriteOp,
    WriteResult,
)

__all__ = ["AppWriter", "WritePlan"]

log = logging.getLogger("renkei.connectors.kintone")


@dataclass
class _Item:
    """One op ready to send: its position among the ops and its ``records[]`` entry."""

    index: int
    entry: dict[str, Any]
    checks_revision: bool = False


@dataclass
class WritePlan:
    """Ops checked against the form, ready to send (:meth:`AppWriter.prepare`).

    Attributes:
        results: One slot per op: the failure of an op refused before any call, else None.
        groups: Route (``add``, ``upsert``, ``update``) → the items to send.
        doubts_form: Some op was refused for the form's sake (a field, table column, option
            or update key it lacks), so a form kept from an earlier run may be the cause.
    """

    results: list[WriteResult | None]
    groups: dict[str, list[_Item]]
    doubts_form: bool = False


_CATEGORY = {CONFLICT: ErrorCategory.CONFLICT, NOT_FOUND: ErrorCategory.NOT_FOUND,
             VALIDATION: ErrorCategory.VALIDATION}


def _fail(category: ErrorCategory, message: str, *, field: str | None = None,
          code: str | None = None, retriable: bool = False) -> WriteResult:
    return WriteResult.failure(RecordError(category, message, code=code, retriable=retriable,
                                           fields=(field,) if field else ()))


class AppWriter:
    """Writes ops to one app.

    Args:
        api: The kintone calls.
        app: The app id.
        properties: The app's record schema properties (field types and options).
        update_key: The unique text field holding the hub reference (``連携ID``).
    """

    def __init__(self, api: KintoneApi, app: int, properties: Mapping[str, Any],
                 update_key: str):
        self.api = api
        self.app = app
        self.properties = properties
        self.update_key = update_key
        self.form_refused = False
        self._doubts = False

    def write(self, ops: Sequence[WriteOp]) -> list[WriteResult]:
        """One result per op, in the order given (:meth:`prepare`, then :meth:`send`).

        Raises:
            ConnectorError: the whole call failed (auth, budget, outage after retries...).
        """
        return self.send(self.prepare(ops))

    def prepare(self, ops: Sequence[WriteOp]) -> WritePlan:
        """Check and encode every op against the form; no call is made.

        Raises:
            ConfigurationError: the update key cannot key upserts (not unique).
        """
        self._doubts = False
        plan = WritePlan([None] * len(ops), {"add": [], "upsert": [], "update": []})
        for index, op in enumerate(ops):
            route, item, failure = self._prepare(index, op)
            if failure is not None:
                plan.results[index] = failure
            else:
                assert item is not None
                plan.groups[route].append(item)
        plan.doubts_form = self._doubts
        return plan

    def send(self, plan: WritePlan) -> list[WriteResult]:
        """Send a prepared plan, at most 100 records per call; one result per op, in order.

        Raises:
            ConnectorError: the whole call failed (auth, budget, outage after retries...).
        """
        results = list(plan.results)
        for route, items in plan.groups.items():
            for start in range(0, len(items), MAX_WRITE):
                chunk = items[start:start + MAX_WRITE]
                for index, result in self._send(route, chunk).items():
                    results[index] = result
        return [r if r is not None else _fail(ErrorCategory.UNKNOWN, "not written")
                for r in results]

    # -- preparing ---------------------------------------------------------------------------
    def _prepare(self, index: int, op: WriteOp
                 ) -> tuple[str, _Item | None, WriteResult | None]:
        values = dict(op.values)
        keyed = self.update_key in self.properties
        if keyed and op.mode is not WriteMode.UPDATE and (op.ref or op.mode is WriteMode.UPSERT) \
                and self.properties[self.update_key].get("x-unique") is False:
            raise ConfigurationError(
                f"kintone app {self.app}: the update key {self.update_key!r} must be a text "
                "field set to prohibit duplicate values (重複禁止) for creates to be upserts")
        # The key travels as updateKey (kintone sets it on an insert), not in the record.
        key_value = (values.pop(self.update_key, None) or None) if keyed else None
        try:
            record = encode_record(values, self.properties, app=str(self.app))
        except EncodeError as exc:
            self._doubts = self._doubts or exc.about_form
            return "", None, _fail(ErrorCategory.VALIDATION, str(exc), field=exc.field)
        if op.mode is WriteMode.UPDATE:
            if not op.id or not str(op.id).isdigit():
                return "", None, _fail(ErrorCategory.VALIDATION,
                                       "an update needs the kintone record id ($id)", field=ID)
            if key_value is not None:
                record[self.update_key] = {"value": str(key_value)}
            revision = op.version if op.version not in (None, "") else "-1"
            entry = {"id": str(op.id), "revision": str(revision), "record": record}
            return "update", _Item(index, entry, checks_revision=str(revision) != "-1"), None
        key = key_value or op.ref
        if op.mode is WriteMode.UPSERT and not key:
            return "", None, _fail(ErrorCategory.VALIDATION,
                                   f"an upsert needs a value for {self.update_key} or a ref",
                                   field=self.update_key)
        if key and keyed:
            entry = {"updateKey": {"field": self.update_key, "value": str(key)},
                     "record": record}
            return "upsert", _Item(index, entry), None
        if op.mode is WriteMode.UPSERT:
            self._doubts = True
            return "", None, _fail(ErrorCategory.CONFIGURATION,
                                   f"app {self.app} has no update-key field {self.update_key!r}",
                                   field=self.update_key)
        return "add", _Item(index, {"record": record}), None

    # -- sending -----------------------------------------------------------------------------
    def _call(self, route: str, items: list[_Item]) -> list[WriteResult]:
        if route == "add":
            saved = self.api.add_records(self.app, [i.entry["record"] for i in items])
            return [WriteResult.success(rid, created=True, version=rev) for rid, rev in saved]
        answers = self.api.update_records(self.app, [i.entry for i in items],
                                          upsert=route == "upsert")
        out = []
        for item, answer in zip(items, answers):
            rid, rev = answer.get("id"), answer.get("revision")
            if rid is None:
                rid = item.entry.get("id")
            if rid is None:
                out.append(_fail(ErrorCategory.UNKNOWN, "kintone returned no record id"))
                continue
            created = route == "upsert" and answer.get("operation") == "INSERT"
            out.append(WriteResult.success(str(rid), created=created,
                                           version=str(rev) if rev is not None else None))
        return out

    def _send(self, route: str, items: list[_Item]) -> dict[int, WriteResult]:
        done: dict[int, WriteResult] = {}
        pending = list(items)
        while pending:
            try:
                for item, result in zip(pending, self._call(route, pending)):
                    done[item.index] = result
                return done
            except KintoneApiError as exc:
                error = exc
            if field_gone(error):
                # The update key is no longer a unique field of the app: every record of
                # the call is refused for the form's sake, not its own; the next run, with
                # the form read again, writes them.
                self.form_refused = True
                for item in pending:
                    done[item.index] = _fail(
                        ErrorCategory.CONFIGURATION,
                        "; ".join([error.vendor_message or str(error),
                                   *field_errors(error.errors)[1]]),
                        field=self.update_key, code=error.code or None, retriable=True)
                return done
            refused = self._attribute(route, pending, error)
            if not refused:
                # Nothing to blame a single record for: the whole chunk carries the reason.
                category = _CATEGORY.get(error.code, ErrorCategory.UNKNOWN)
                message = "; ".join([error.vendor_message or str(error),
                                     *field_errors(error.errors)[1]])
                for item in pending:
                    done[item.index] = _fail(category, message, code=error.code or None,
                                             retriable=error.code == CONFLICT)
                return done
            log.info("kintone app %s: %d of %d records refused (%s); writing the rest again",
                     self.app, len(refused), len(pending), error.code)
            done.update(refused)
            pending = [i for i in pending if i.index not in refused]
        return done

    def _attribute(self, route: str, pending: list[_Item], exc: KintoneApiError
                   ) -> dict[int, WriteResult]:
        """The records a refused call can be blamed on, with their results."""
        if exc.code == VALIDATION:
            found, _ = field_errors(exc.errors)
            by_position: dict[int, list[Any]] = {}
            for error in found:
                if 0 <= error.index < len(pending):
                    by_position.setdefault(error.index, []).append(error)
            return {pending[pos].index: WriteResult.failure(record_error(errors))
                    for pos, errors in by_position.items()}
        if route == "update" and exc.code in (CONFLICT, NOT_FOUND):
            return self._probe(pending, exc)
        return {}

    def _probe(self, pending: list[_Item], exc: KintoneApiError) -> dict[int, WriteResult]:
        """One GET of the batch's current revisions: which records are stale or gone."""
        ids = [str(i.entry["id"]) for i in pending]
        raw = self.api.records(self.app, f"{ID} in ({', '.join(ids)}) limit {len(ids)}",
                               fields=[ID, REVISION])
        current = {str(r.get(ID, {}).get("value")): str(r.get(REVISION, {}).get("value"))
                   for r in raw}
        blamed: dict[int, WriteResult] = {}
        for item in pending:
            rid = str(item.entry["id"])
            if rid not in current:
                blamed[item.index] = _fail(
                    ErrorCategory.NOT_FOUND,
                    f"record {rid} does not exist in app {self.app} (deleted?)",
                    code=NOT_FOUND)
            elif item.checks_revision and current[rid] != str(item.entry["revision"]):
                blamed[item.index] = _fail(
                    ErrorCategory.CONFLICT,
                    exc.vendor_message or f"record {rid} was edited in kintone since renkei "
                                          "read it",
                    code=CONFLICT, retriable=True)
        return blamed
