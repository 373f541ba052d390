"""Every statement a sync sends to SQLite searches by an index that narrows it below a whole
mapping or entity: none walks a table that grows with the hub (a scan per page or per batch turns a sync quadratic; one per result batch over
the links made the 100k outbound ten times slower before it was found)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sqlalchemy import event

from renkei.store import Store
from tests.engine.harness import crm_mapping, ma_mapping, make_world

GROWING = {"records", "links", "match_keys", "journal", "dead_letters", "conflicts",
           "api_calls", "webhook_inbox", "pending_creates"}
_SCAN = re.compile(r"^SCAN (\w+)")
_SEARCH = re.compile(r"^SEARCH (\w+) USING (?:COVERING )?INDEX \w+ \(([^)]*)\)")
# An index search on these alone still walks every row of a mapping or an entity.
_WHOLE = {"mapping", "entity"}


def _walks_a_growing_table(step: str) -> bool:
    if (m := _SCAN.match(step)) is not None:
        return m.group(1) in GROWING
    if (m := _SEARCH.match(step)) is not None:
        return m.group(1) in GROWING and set(re.findall(r"(\w+)[=<>]", m.group(2))) <= _WHOLE
    return False


def _plans(store: Store, statements: dict[str, Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    with store.engine.connect() as conn:
        for sql, params in statements.items():
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()
            out[sql] = [str(r[-1]) for r in rows]
    return out


def test_a_sync_never_scans_a_growing_table(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path}/hub.db")
    seen: dict[str, Any] = {}

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any,
                executemany: bool) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE")):
            seen.setdefault(statement, parameters[0] if executemany else parameters)

    event.listen(store.engine, "before_cursor_execute", capture)
    w = make_world(tmp_path, store, ma=ma_mapping("manual"), crm=crm_mapping("manual"),
                   page_size=5, batch=3)
    try:
        for i in range(12):
            w.ma.create({"email": f"p{i}@example.co.jp", "last_name": f"姓{i}",
                         "company": "サクラ精機", "stage": "lead"})
        w.crm.create({"Email": "p0@example.co.jp", "LastName": "姓0", "Company": "別社"})
        w.sync()
        [crm] = w.crm.find(Email="p1@example.co.jp")
        w.crm.edit(crm["id"], {"Company": "CRM社", "Note": "x"})
        w.ma.edit(next(iter(w.ma.records)), {"company": "MA社"})
        w.sync()
        w.sync()
    finally:
        w.close()
    event.remove(store.engine, "before_cursor_execute", capture)
    assert len(seen) > 15, "the sync sent fewer statements than expected: capture is broken"
    scans = {sql: [p for p in plan if _walks_a_growing_table(p)]
             for sql, plan in _plans(store, seen).items()}
    store.close()
    assert {sql: s for sql, s in scans.items() if s} == {}
