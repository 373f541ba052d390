"""A two-system world on the in-memory connector: "ma" (contacts) and "crm" (leads).

Both streams live in one memory dataset so their modification times share one clock, which
makes ``newest_wins`` decisions checkable.
"""

from __future__ import annotations

import textwrap
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connectors.memory import MemoryDataset, MemoryStream
from renkei.engine.runner import SyncRunner
from renkei.engine.stats import RunSummary
from renkei.project import Project
from renkei.store import Store

_PROPS = {"id": {"type": "string"}, "updated_at": {"type": "string"}}

MA_SCHEMA = {"type": "object", "properties": {**_PROPS, **{k: {"type": ["string", "null"]} for k in (
    "email", "last_name", "company", "stage", "note", "phone")}, "score": {"type": ["integer", "null"]}}}
CRM_SCHEMA = {"type": "object", "properties": {**_PROPS, **{k: {"type": ["string", "null"]} for k in (
    "Email", "LastName", "Company", "Stage", "Note")}}}


def ma_mapping(company_policy: str = "newest_wins", extra: str = "") -> str:
    return textwrap.dedent(f"""\
        name: ma-contacts
        connection: ma
        stream: contacts
        entity: lead
        system_modified: updated_at
        match:
          - name: email
            fields: [email]
            normalize: email
        conflict:
          default: newest_wins
        fields:
          email: {{system: email, transform: [trim, lower]}}
          last_name: last_name
          company: {{system: company, conflict: {company_policy}}}
          lifecycle_stage: stage
          description: note
          score: {{system: score, direction: in}}
        {extra}""")


def crm_mapping(company_policy: str = "newest_wins") -> str:
    return textwrap.dedent(f"""\
        name: crm-leads
        connection: crm
        stream: leads
        entity: lead
        system_modified: updated_at
        match:
          - name: email
            fields: [email]
            normalize: email
        conflict:
          default: newest_wins
        fields:
          email: {{system: Email, transform: [trim, lower]}}
          last_name: LastName
          company: {{system: Company, conflict: {company_policy}}}
          lifecycle_stage: Stage
          description: Note
        """)


@dataclass
class World:
    project: Project
    store: Store
    ma: MemoryStream
    crm: MemoryStream
    dataset: MemoryDataset

    def sync(self) -> RunSummary:
        return SyncRunner(self.project, self.store).sync("lead")

    def writes(self) -> int:
        return self.dataset.writes()

    def hub(self) -> list[dict[str, Any]]:
        with self.store.transaction() as tx:
            return [r.data for r in tx.records.page("lead", limit=100000)]

    def close(self) -> None:
        self.project.close()


def make_world(tmp: Path, store: Store, *, ma: str | None = None, crm: str | None = None,
               page_size: int = 100, batch: int = 50, versioned_crm: bool = False) -> World:
    name = f"ds-{uuid.uuid4().hex[:8]}"
    ds = MemoryDataset.create(name)
    s_ma = ds.add_stream("contacts", MA_SCHEMA, page_size=page_size, write_batch_size=batch)
    s_crm = ds.add_stream("leads", CRM_SCHEMA, page_size=page_size, write_batch_size=batch,
                          versioned=versioned_crm)
    mdir = tmp / f"mappings-{name}"
    mdir.mkdir()
    (mdir / "ma-contacts.yaml").write_text(ma or ma_mapping(), encoding="utf-8")
    (mdir / "crm-leads.yaml").write_text(crm or crm_mapping(), encoding="utf-8")
    project = Project(root=tmp, database_url=None, mappings_dir=mdir, connections={
        "ma": {"type": "memory", "config": {"dataset": name}},
        "crm": {"type": "memory", "config": {"dataset": name}},
    })
    return World(project, store, s_ma, s_crm, ds)
