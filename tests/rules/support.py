"""Helpers for the rules tests: a store seeded with leads, activities and accounts."""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from renkei.mapping.normalize import email_key
from renkei.rules import RuleSet, RulesOutcome
from renkei.store import Store, Tx

REPO = Path(__file__).resolve().parents[2]
DEMO_RULES = REPO / "mappings" / "rules"
NOW = "2026-03-02T00:00:00.000000Z"


def rules_dir(tmp: Path, **files: str) -> Path:
    """A rules directory: the demo's files, with ``files`` (kind → YAML) replacing them."""
    out = tmp / "rules"
    out.mkdir(exist_ok=True)
    for path in DEMO_RULES.glob("*.yaml"):
        shutil.copy(path, out / path.name)
    for name, text in files.items():
        (out / f"{name}.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
    return out


def load(tmp: Path, **files: str) -> RuleSet:
    return RuleSet.load(rules_dir(tmp, **files))


def add(tx: Tx, entity: str, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert hub records as an inbound page would (records, e-mail keys, journal)."""
    ids = tx.records.insert_many(entity, [(dict(r), {f: ["test", NOW] for f in r}) for r in rows])
    if entity == "lead":
        tx.match_keys.replace("lead", {i: [("email", email_key(r["email"]))] for i, r in
                                       zip(ids, rows) if r.get("email")}, names=["email"])
    tx.journal.append_many(entity, [(i, sorted(r), "test") for i, r in zip(ids, rows)], None)
    return ids


def changes_of(entity: str, ids: Sequence[int], rows: Sequence[dict[str, Any]]
               ) -> dict[str, dict[int, frozenset[str]]]:
    return {entity: {i: frozenset(r) for i, r in zip(ids, rows)}}


@contextmanager
def sqlite_store(tmp: Path) -> Iterator[Store]:
    store = Store.open(f"sqlite:///{tmp / 'hub.db'}")
    try:
        yield store
    finally:
        store.close()


def apply_leads(store: Store, rules: RuleSet, rows: Sequence[dict[str, Any]],
                now: str = NOW) -> tuple[list[int], RulesOutcome]:
    """Add leads and run the rules on them; returns their ids and the outcome."""
    with store.transaction() as tx:
        ids = add(tx, "lead", rows)
        outcome = rules.apply(tx, changes_of("lead", ids, rows), now)
    return ids, outcome


def lead(store: Store, rid: int) -> dict[str, Any]:
    with store.transaction() as tx:
        return tx.records.get_many([rid])[rid].data


def alerts(store: Store) -> list[dict[str, Any]]:
    with store.transaction() as tx:
        return [r.data for r in tx.records.page("alert", limit=10000)]
