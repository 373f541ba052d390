"""A world for deal outcomes: the Marketo emulator over real HTTP (leads, static lists) and
an in-memory SFA deals stream, with a rules directory of owners, outcomes and deal alerts."""

from __future__ import annotations

import shutil
import textwrap
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from connectors.memory import MemoryDataset, MemoryStream
from renkei.engine.runner import SyncRunner
from renkei.project import Project
from renkei.store import HubRecord, Store
from sandbox.core import EmulatorServer
from sandbox.marketo import MarketoConfig, MarketoEmulator

REPO = Path(__file__).resolve().parents[2]
LIST_ID = 1001
_S = {"type": ["string", "null"]}
_B = {"type": ["boolean", "null"]}
DEAL_SCHEMA = {"type": "object", "properties": {
    "id": {"type": "string"}, "updated_at": {"type": "string"}, "Name": _S, "Stage": _S,
    "IsWon": _B, "IsClosed": _B, "LossReason": _S, "Owner": _S, "StageChangedAt": _S,
    "Contacts": {"type": ["array", "null"], "items": {"type": "string"}},
    "RecycleContent": _S, "RecycleFrequency": _S, "RecycleEmail": _S}}

DEAL_MAPPING = textwrap.dedent("""\
    name: crm-deals
    connection: crm
    stream: deals
    entity: deal
    system_modified: updated_at
    match:
      - name: deal_name
        fields: [name]
        normalize: text
    conflict:
      default: newest_wins
    fields:
      name: Name
      stage: Stage
      is_won: IsWon
      is_closed: IsClosed
      lost_reason: LossReason
      owner: Owner
      stage_changed_at: StageChangedAt
      contact_emails: Contacts
      recycle_content: RecycleContent
      recycle_frequency: RecycleFrequency
      recycle_email: RecycleEmail
    """)

OWNERS = textwrap.dedent("""\
    kind: owners
    teams:
      営業: [tanaka]
      インサイドセールス: [kato]
    owners:
      tanaka: {name: 田中 一郎}
      kato: {name: 加藤 誠, alerts: [quote_stalled, no_progress]}
    """)


def ago(days: float) -> str:
    """A canonical UTC time ``days`` ago."""
    return (datetime.now(UTC) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class World:
    project: Project
    store: Store
    marketo: MarketoEmulator
    deals: MemoryStream

    def sync(self, entity: str) -> None:
        SyncRunner(self.project, self.store).sync(entity)

    def lead(self, email: str) -> dict[str, Any]:
        with self.store.transaction() as tx:
            found = [r.data for r in tx.records.page("lead", limit=100000)
                     if r.data.get("email") == email]
        assert len(found) == 1, email
        return found[0]

    def alerts(self) -> list[HubRecord]:
        with self.store.transaction() as tx:
            return tx.records.page("alert", limit=100000)

    def marketo_id(self, email: str) -> int:
        return next(i for i in self.marketo.store.ids()
                    if (self.marketo.store.get(i) or {}).get("email") == email)

    def list_calls(self, method: str) -> list[Any]:
        return [c for c in self.marketo.calls.list(path_prefix=f"/rest/v1/lists/{LIST_ID}/")
                if c.method == method]

    def emails(self, n: int) -> list[str]:
        out = []
        for i in self.marketo.store.ids():
            email = (self.marketo.store.get(i) or {}).get("email")
            if email:
                out.append(str(email).strip().lower())
            if len(out) == n:
                return out
        raise AssertionError("not enough seeded leads")


@contextmanager
def make_world(tmp: Path, db_url: str) -> Iterator[World]:
    name = f"deals-{uuid.uuid4().hex[:8]}"
    ds = MemoryDataset.create(name)
    deals = ds.add_stream("deals", DEAL_SCHEMA)
    mdir, rdir = tmp / "mappings", tmp / "rules"
    mdir.mkdir()
    rdir.mkdir()
    shutil.copy(REPO / "mappings" / "marketo-leads.yaml", mdir)
    (mdir / "crm-deals.yaml").write_text(DEAL_MAPPING, encoding="utf-8")
    (rdir / "owners.yaml").write_text(OWNERS, encoding="utf-8")
    for f in ("outcomes.yaml", "deal_alerts.yaml"):
        shutil.copy(REPO / "mappings" / "rules" / f, rdir)
    emulator = MarketoEmulator(MarketoConfig(size=12, seed=5, munchkin_id=f"o-{name}"))
    server = EmulatorServer(emulator.asgi(), name="marketo")
    server.start()
    creds = emulator.credentials()
    project = Project(root=tmp, database_url=db_url, mappings_dir=mdir, rules_dir=rdir,
                      connections={
                          "marketo": {"type": "marketo", "config": {
                              "base_url": server.url, "client_id": creds["client_id"],
                              "client_secret": creds["client_secret"],
                              "munchkin_id": f"o-{name}"}},
                          "crm": {"type": "memory", "config": {"dataset": name}}})
    store = Store.open(db_url)
    try:
        yield World(project, store, emulator, deals)
    finally:
        store.close()
        project.close()
        server.stop()
