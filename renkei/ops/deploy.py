"""``renkei deploy``: put renkei's deployments, limits and automations on a Prefect server.

Idempotent: run it after every upgrade. It creates the process work pool if missing,
upserts one global concurrency limit per synced entity (limit 1: the sync flow takes it with
``strict=True``, so a missing limit fails the run instead of silently running unlimited),
registers every deployment of prefect.yaml on the pool, and creates or updates the
automations of :mod:`renkei.ops.automations` (one per name: duplicates left by an older
version are removed).

It refuses to run without a lasting server: with ``PREFECT_API_URL`` unset Prefect would
start a temporary server, register everything there and forget it when the command exits.
An automation is replaced with its full definition, not Prefect's ``update_automation``: that
sends only the fields set explicitly, so an action's ``type`` (a default) went missing and
the server read "pause the deployment" back as "run the deployment" (3.8.8).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from renkei.ops.automations import RENKEI_FLOWS, automations
from renkei.ops.deployments import SYNC_LIMIT, DeploymentSpec, available, build, load_specs

DEFAULT_POOL = "renkei"


class PrefectServerError(Exception):
    """No Prefect server is configured, it cannot be reached, or it refused a request."""


@dataclass
class DeployReport:
    """What ``renkei deploy`` found and did."""

    pool: str
    pool_created: bool = False
    pool_type: str = "process"
    deployments: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    limits: list[str] = field(default_factory=list)
    automations_created: list[str] = field(default_factory=list)
    automations_updated: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        state = "created" if self.pool_created else "exists"
        out = [f"work pool {self.pool} ({self.pool_type}): {state}"]
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


def _ensure_pool(name: str) -> tuple[bool, str]:
    """(created, type) of the work pool: an existing pool is kept whatever its type (a
    Kubernetes pool is fine, docs/scale-out.md); a missing one is created as a process pool."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            return False, str(client.read_work_pool(name).type)
        except ObjectNotFound:
            client.create_work_pool(WorkPoolCreate(name=name, type="process"))
            return True, "process"


def _ensure_automations(report: DeployReport, notify_block: str | None,
                        flows: list[str]) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.sorting import AutomationSort
    from prefect.events.filters import AutomationFilter, AutomationFilterName
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        block_id = None
        if notify_block:
            block_type, _, block_name = notify_block.partition("/")
            try:
                block_id = client.read_block_document_by_name(block_name, block_type).id
            except ObjectNotFound:
                raise PrefectServerError(
                    f"notification block {notify_block!r} does not exist on the server "
                    "(create it in the UI under Blocks, then give TYPE/NAME)") from None
        for automation in automations(block_id, flows=tuple(flows) or RENKEI_FLOWS):
            # oldest first: the one kept is the one operators and links already know
            existing = client.read_automations(
                automations=AutomationFilter(name=AutomationFilterName(any_=[automation.name])),
                sort=AutomationSort.CREATED_DESC)[::-1]
            for extra in existing[1:]:
                client.delete_automation(extra.id)
            if existing:
                response = client.request(
                    "PUT", "/automations/{id}", path_params={"id": existing[0].id},
                    json=automation.model_dump(mode="json", exclude={"owner_resource"}))
                response.raise_for_status()
                report.automations_updated.append(automation.name)
            else:
                client.create_automation(automation)
                report.automations_created.append(automation.name)


def api_url() -> str:
    """The Prefect API ``renkei deploy`` registers on, checked to answer.

    Raises:
        PrefectServerError: ``PREFECT_API_URL`` is not set, or nothing answers there.
    """
    import httpx
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    if not url:
        raise PrefectServerError(
            "PREFECT_API_URL is not set: point it at the Prefect server to register on, e.g. "
            "PREFECT_API_URL=http://127.0.0.1:4200/api (renkei deploy never uses a temporary "
            "server, which forgets everything when the command exits)")
    try:
        httpx.get(f"{url.rstrip('/')}/health", timeout=10).close()
    except httpx.HTTPError as exc:
        raise PrefectServerError(f"cannot reach the Prefect server at {url} "
                                 f"(PREFECT_API_URL): {exc or type(exc).__name__}") from None
    return str(url)


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
        DeploymentFileError: prefect.yaml is missing or malformed, or an entrypoint does not
            load (checked before anything is registered).
        PrefectServerError: No server is configured, it is unreachable or refused a request.
    """
    import httpx

    specs, skipped = available(load_specs(prefect_file or root / "prefect.yaml"), root)
    built: list[Any] = [build(spec, root, project=project, for_worker=True) for spec in specs]
    url = api_url()
    pool = pool or next((s.work_pool for s in specs if s.work_pool), None) or DEFAULT_POOL
    report = DeployReport(pool=pool, skipped=skipped)
    step = f"work pool {pool}"
    try:
        report.pool_created, report.pool_type = _ensure_pool(pool)
        step = "concurrency limits"
        report.limits = sync_limits(specs)
        ensure_limits(report.limits)
        for d in built:
            step = f"deployment {d.flow_name}/{d.name}"
            d.apply(work_pool_name=pool)
            report.deployments.append(f"{d.flow_name}/{d.name}")
        step = "automations"
        _ensure_automations(report, notify_block, sorted({d.flow_name for d in built}))
    except httpx.HTTPError as exc:  # PrefectHTTPStatusError included
        done = "; ".join(report.lines()[1:]) or "nothing yet"
        raise PrefectServerError(f"the Prefect server at {url} failed at {step}: {exc} "
                                 f"(done: {done}; run renkei deploy again)") from exc
    return report


__all__ = ["DEFAULT_POOL", "DeployReport", "PrefectServerError", "api_url", "deploy",
           "ensure_limits", "sync_limits"]
