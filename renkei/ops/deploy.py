"""``renkei deploy``: put renkei's deployments, limits and automations on a Prefect server.

Idempotent: run it after every upgrade. It creates the process work pool if missing,
upserts one global concurrency limit per synced entity (limit 1: the sync flow takes it with
``strict=True``, so a missing limit fails the run instead of silently running unlimited),
registers every deployment of prefect.yaml on the pool, and creates or updates the
automations of :mod:`renkei.ops.automations`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from renkei.ops.automations import automations
from renkei.ops.deployments import SYNC_LIMIT, DeploymentSpec, available, build, load_specs

DEFAULT_POOL = "renkei"


@dataclass
class DeployReport:
    """What ``renkei deploy`` found and did."""

    pool: str
    pool_created: bool = False
    deployments: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    limits: list[str] = field(default_factory=list)
    automations_created: list[str] = field(default_factory=list)
    automations_updated: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"work pool {self.pool}: {'created' if self.pool_created else 'exists'}"]
        out += [f"deployment {d}" for d in self.deployments]
        out += [f"skipped {d} (entrypoint file missing)" for d in self.skipped]
        out += [f"concurrency limit {n} = 1" for n in self.limits]
        out += [f"automation {n}: created" for n in self.automations_created]
        out += [f"automation {n}: updated" for n in self.automations_updated]
        return out


def sync_limits(specs: list[DeploymentSpec]) -> list[str]:
    """The global concurrency limit names of the entity syncs among ``specs``."""
    return sorted({SYNC_LIMIT.format(entity=s.entity) for s in specs if s.entity})


def ensure_limits(names: list[str]) -> None:
    """Create (or reset to 1) the given global concurrency limits."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        for name in names:
            client.upsert_global_concurrency_limit_by_name(name, 1)


def _ensure_pool(name: str) -> bool:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_work_pool(name)
            return False
        except ObjectNotFound:
            client.create_work_pool(WorkPoolCreate(name=name, type="process"))
            return True


def _ensure_automations(report: DeployReport, notify_block: str | None) -> None:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        block_id = None
        if notify_block:
            block_type, _, block_name = notify_block.partition("/")
            block_id = client.read_block_document_by_name(block_name, block_type).id
        for automation in automations(block_id):
            existing = client.read_automations_by_name(automation.name)
            if existing:
                client.update_automation(existing[0].id, automation)
                report.automations_updated.append(automation.name)
            else:
                client.create_automation(automation)
                report.automations_created.append(automation.name)


def deploy(root: Path, *, prefect_file: Path | None = None, pool: str | None = None,
           project: str | None = None, notify_block: str | None = None) -> DeployReport:
    """Register everything on the server ``PREFECT_API_URL`` points at.

    Args:
        root: The project root (entrypoints and prefect.yaml are relative to it).
        prefect_file: Default ``root/prefect.yaml``.
        pool: Work pool (default: the one prefect.yaml names, else ``renkei``).
        project: Passed as the flows' ``project`` parameter.
        notify_block: ``<block type slug>/<name>`` of a notification block for automations.

    Raises:
        DeploymentFileError: prefect.yaml is missing or malformed.
    """
    specs, skipped = available(load_specs(prefect_file or root / "prefect.yaml"), root)
    pool = pool or next((s.work_pool for s in specs if s.work_pool), None) or DEFAULT_POOL
    report = DeployReport(pool=pool, skipped=skipped)
    report.pool_created = _ensure_pool(pool)
    report.limits = sync_limits(specs)
    ensure_limits(report.limits)
    for spec in specs:
        d: Any = build(spec, root, project=project, for_worker=True)
        d.apply(work_pool_name=pool)
        report.deployments.append(f"{d.flow_name}/{d.name}")
    _ensure_automations(report, notify_block)
    return report


__all__ = ["DEFAULT_POOL", "DeployReport", "deploy", "ensure_limits", "sync_limits"]
