"""Record operations of the kintone domain, free of HTTP: read, add, update, upsert, delete.

Write rules [C: cybozu.dev "Add Records"/"Update Records"/"Delete Records"; js-sdk types;
S where marked]:

* at most 100 records per bulk call; all-or-nothing;
* ``revision`` absent or -1 means no check; otherwise a mismatch fails the whole call with
  409 GAIA_CO02 "指定したrevisionは最新ではありません。…" [S: old js-sdk fixture];
* ``updateKey`` names a field with "prohibit duplicate values"; ``upsert: true`` adds the
  record when no record has that key, reporting ``operation`` INSERT/UPDATE;
* unique fields: "値がほかのレコードと重複しています。" under ``record.<code>.value`` or
  ``records[i].<code>.value``; empty values are never duplicates [S: SonicGarden notes];
* every update adds 1 to ``$revision`` and sets 更新日時/更新者.

Every validation error of a call is collected before it fails (one CB_VA01 naming them all).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sandbox.kintone.errors import (
    KintoneError,
    app_not_found,
    bad_request,
    record_not_found,
    validation_error,
)
from sandbox.kintone.query import parse
from sandbox.kintone.query_eval import QueryContext, compile_query, syntax_error
from sandbox.kintone.query_lexer import QuerySyntaxError
from sandbox.kintone.store import AppStore, Domain, StoredRecord
from sandbox.kintone.values import ValueErrors, coerce_record, minute_stamp

__all__ = ["MAX_GET", "MAX_OFFSET", "MAX_WRITE", "Event", "RecordOps"]

MAX_GET, MAX_OFFSET, MAX_WRITE = 500, 10_000, 100
_CONFLICT = ("指定したrevisionは最新ではありません。ほかのユーザーがレコードを更新した可能性が"
             "あります。")


@dataclass(frozen=True)
class Event:
    """A committed change, for webhooks: ADD_RECORD, UPDATE_RECORD or DELETE_RECORD."""

    type: str
    app_id: int
    record: StoredRecord
    user: str
    at: str


def _int(value: object, key: str) -> int:
    if isinstance(value, bool):
        raise bad_request(key, "整数を指定してください。")
    try:
        return int(str(value).strip())
    except ValueError:
        raise bad_request(key, "整数を指定してください。") from None


class RecordOps:
    """The record API of one :class:`Domain`.

    Args:
        domain: Where records live.
        clock: Wall clock (UTC-aware) for timestamps and query functions.
    """

    def __init__(self, domain: Domain, clock: Callable[[], datetime]) -> None:
        self.domain = domain
        self.clock = clock

    def store(self, app: object) -> AppStore:
        """The store of app ``app`` (a number or numeric string).

        Raises:
            KintoneError: CB_VA01 if missing or not a number, GAIA_AP01 if unknown.
        """
        if app in (None, ""):
            raise bad_request("app", "必須です。")
        app_id = _int(app, "app")
        if app_id < 1:
            raise bad_request("app", "最小でも1以上です。")
        store = self.domain.store(app_id)
        if store is None:
            raise app_not_found(app_id)
        return store

    # -- reads ------------------------------------------------------------------------------

    def select(self, store: AppStore, query: str, user: str, *, paged: bool = True
               ) -> tuple[list[StoredRecord], int]:
        """Records matching ``query`` after its limit/offset, and the match count before."""
        try:
            q = parse(query or "")
        except QuerySyntaxError as exc:
            raise syntax_error(exc) from None
        if paged:
            if q.limit is not None and q.limit > MAX_GET:
                raise KintoneError(400, "GAIA_QU01", "limit には 500 以下の値を指定してください。")
            if q.offset is not None and q.offset > MAX_OFFSET:
                raise KintoneError(400, "GAIA_QU02",
                                   "offset には 10,000 以下の値を指定してください。")
        elif q.limit is not None or q.offset is not None:
            raise bad_request("query", "カーソルの作成時は、クエリにlimitとoffsetを指定できません。")
        if (q.limit is not None and q.limit < 0) or (q.offset is not None and q.offset < 0):
            raise bad_request("query", "クエリ記法が間違っています。")
        run = compile_query(q, store.app, QueryContext(self.clock(), user))
        with self.domain.lock:
            hits = run(store.records.values())
        if not paged:
            return hits, len(hits)
        offset = q.offset or 0
        limit = 100 if q.limit is None else q.limit
        return hits[offset:offset + limit], len(hits)

    def get(self, store: AppStore, record_id: object) -> StoredRecord:
        """One record by id (GAIA_RE01 when missing)."""
        if record_id in (None, ""):
            raise bad_request("id", "必須です。")
        rec = store.get(_int(record_id, "id"))
        if rec is None:
            raise record_not_found(record_id)
        return rec

    # -- writes -----------------------------------------------------------------------------

    def add(self, store: AppStore, records: list[Any], user: str, *, single: bool
            ) -> tuple[list[StoredRecord], list[Event]]:
        """Add records (POST record.json / records.json)."""
        if not single and len(records) > MAX_WRITE:
            raise bad_request("records", "一度に100件までのレコードを追加できます。")
        errors: ValueErrors = {}
        added: list[StoredRecord] = []
        with self.domain.transaction():
            now = minute_stamp(self.clock())
            for index, raw in enumerate(records):
                prefix = "record" if single else f"records[{index}]"
                rec = self._insert(store, raw, prefix, user, now, errors)
                if rec is not None:
                    added.append(rec)
            if errors:
                raise validation_error(errors)
        return added, [Event("ADD_RECORD", store.app.id, r, user, now) for r in added]

    def _insert(self, store: AppStore, raw: object, prefix: str, user: str, now: str,
                errors: ValueErrors, extra: dict[str, Any] | None = None) -> StoredRecord | None:
        mine: ValueErrors = {}
        values = coerce_record(store.app, raw, prefix, None, mine, self.domain.new_row_id)
        if extra:
            values.update(extra)
        self._check_unique(store, values, None, prefix, mine)
        if mine:
            errors.update(mine)
            return None
        rec = StoredRecord(store.allocate_id(), 1, values, now, now, user, user)
        store.put(rec)
        return rec

    @staticmethod
    def _check_unique(store: AppStore, values: dict[str, Any], record_id: int | None,
                      prefix: str, errors: ValueErrors) -> None:
        for code in store.unique_codes:
            value = values.get(code)
            if not value:
                continue
            other = store.find_unique(code, value)
            if other is not None and other.id != record_id:
                errors.setdefault(f"{prefix}.{code}.value", []).append(
                    "値がほかのレコードと重複しています。")

    def update(self, store: AppStore, items: list[Any], user: str, *, single: bool,
               upsert: bool = False) -> tuple[list[tuple[StoredRecord, str]], list[Event]]:
        """Update (or upsert) records (PUT record.json / records.json).

        Returns:
            ``(record, "UPDATE" | "INSERT")`` per item, in order, and the events.
        """
        if not single and len(items) > MAX_WRITE:
            raise bad_request("records", "一度に100件までのレコードを更新できます。")
        errors: ValueErrors = {}
        done: list[tuple[StoredRecord, str]] = []
        with self.domain.transaction():
            now = minute_stamp(self.clock())
            for index, item in enumerate(items):
                prefix = "record" if single else f"records[{index}]"
                outcome = self._update_one(store, item, prefix, user, now, upsert, errors)
                if outcome is not None:
                    done.append(outcome)
            if errors:
                raise validation_error(errors)
        events = [Event("ADD_RECORD" if op == "INSERT" else "UPDATE_RECORD", store.app.id, rec,
                        user, now) for rec, op in done]
        return done, events

    def _update_one(self, store: AppStore, item: object, prefix: str, user: str, now: str,
                    upsert: bool, errors: ValueErrors) -> tuple[StoredRecord, str] | None:
        where = "" if prefix == "record" else f"{prefix}."
        if not isinstance(item, dict):
            raise bad_request(prefix, "オブジェクトで指定してください。")
        raw = item.get("record")
        key = item.get("updateKey")
        if item.get("id") not in (None, "", -1, "-1"):
            current = store.get(_int(item["id"], f"{where}id"))
            if current is None:
                raise record_not_found(item["id"])
        elif isinstance(key, dict):
            field_code, value = key.get("field"), key.get("value")
            f = store.app.field(str(field_code))
            if f is None or not f.unique:
                raise bad_request(f"{where}updateKey.field",
                                  "重複禁止が設定されたフィールドを指定してください。")
            current = store.find_unique(f.code, str(value)) if value not in (None, "") else None
            if current is None:
                if not upsert:
                    raise KintoneError(404, "GAIA_RE01",
                                       f"指定したレコード（{f.code}: {value}）が見つかりません。")
                rec = self._insert(store, raw, prefix, user, now, errors, {f.code: str(value)})
                return None if rec is None else (rec, "INSERT")
        else:
            raise bad_request(f"{where}id", "id または updateKey を指定してください。")
        revision = item.get("revision")
        checked = revision not in (None, "", -1, "-1")
        if checked and _int(revision, f"{where}revision") != current.revision:
            raise KintoneError(409, "GAIA_CO02", _CONFLICT)
        mine: ValueErrors = {}
        values = coerce_record(store.app, raw, prefix, current.values, mine,
                               self.domain.new_row_id)
        self._check_unique(store, values, current.id, prefix, mine)
        if mine:
            errors.update(mine)
            return None
        rec = replace(current, revision=current.revision + 1, values=values, updated_at=now,
                      modifier=user)
        store.put(rec)
        return rec, "UPDATE"

    def delete(self, store: AppStore, ids: list[Any], revisions: list[Any] | None, user: str
               ) -> list[Event]:
        """Delete records by id, checking revisions where given (DELETE records.json)."""
        if not ids:
            raise bad_request("ids", "必須です。")
        if len(ids) > MAX_WRITE:
            raise bad_request("ids", "一度に1件から100件までのレコードを削除できます。")
        if revisions and len(revisions) != len(ids):
            raise bad_request("revisions", "ids と同じ数を指定してください。")
        events: list[Event] = []
        with self.domain.transaction():
            now = minute_stamp(self.clock())
            for index, raw_id in enumerate(ids):
                rec = store.get(_int(raw_id, f"ids[{index}]"))
                if rec is None:
                    raise record_not_found(raw_id)
                rev = revisions[index] if revisions else None
                checked = rev not in (None, "", -1, "-1")
                if checked and _int(rev, f"revisions[{index}]") != rec.revision:
                    raise KintoneError(409, "GAIA_CO02", _CONFLICT)
                store.remove(rec.id)
                events.append(Event("DELETE_RECORD", store.app.id, rec, user, now))
        return events
