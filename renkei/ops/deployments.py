"""The deployments of ``prefect.yaml``, read once for ``renkei serve`` and ``renkei deploy``.

``prefect.yaml`` stays the one place where schedules, parameters and tags live, so what
``prefect deploy --all`` registers, what ``renkei deploy`` registers and what ``renkei serve``
runs locally are the same deployments. Only the subset of the format renkei's file uses is
read: name, entrypoint, description, tags, parameters, schedules (interval or cron, with
timezone, active and per-schedule parameters, e.g. one mapping on its own cadence),
concurrency_limit and work_pool.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment

#: Global concurrency limit that keeps two runs of one entity's sync from overlapping.
SYNC_LIMIT = "renkei-sync-{entity}"


class DeploymentFileError(Exception):
    """prefect.yaml is missing or a deployment in it is malformed."""


@dataclass
class DeploymentSpec:
    """One deployment of prefect.yaml."""

    name: str
    entrypoint: str
    description: str | None = None
    tags: list[str] = field(default_factory=list)
    parameters: dict[str, Any] = field(default_factory=dict)
    schedules: list[dict[str, Any]] = field(default_factory=list)
    concurrency_limit: Any = None
    work_pool: str | None = None

    @property
    def entity(self) -> str | None:
        """The entity an entity-sync deployment syncs (its concurrency limit's key)."""
        if self.entrypoint.endswith(":sync_entity"):
            return str(self.parameters.get("entity", "lead"))
        return None

    def module_and_function(self) -> tuple[str, str]:
        path, _, fn = self.entrypoint.partition(":")
        return path.removesuffix(".py").replace("/", "."), fn


def load_specs(prefect_file: Path) -> list[DeploymentSpec]:
    """Parse the deployments of ``prefect_file``.

    Raises:
        DeploymentFileError: The file is missing or a deployment lacks a name or entrypoint.
    """
    if not prefect_file.is_file():
        raise DeploymentFileError(f"{prefect_file}: no such file (the deployments live there)")
    doc = yaml.safe_load(prefect_file.read_text(encoding="utf-8")) or {}
    specs: list[DeploymentSpec] = []
    for i, d in enumerate(doc.get("deployments") or []):
        where = f"{prefect_file}: deployments[{i}]"
        if not isinstance(d, dict) or not d.get("name") or not d.get("entrypoint"):
            raise DeploymentFileError(f"{where}: needs a name and an entrypoint")
        for s in d.get("schedules") or []:
            if not isinstance(s, dict) or not ({"interval", "cron"} & set(s)):
                raise DeploymentFileError(
                    f"{where} ({d['name']}): each schedule needs `interval` (seconds) or `cron`")
        pool = d.get("work_pool")
        specs.append(DeploymentSpec(
            name=str(d["name"]), entrypoint=str(d["entrypoint"]),
            description=d.get("description"), tags=list(d.get("tags") or []),
            parameters=dict(d.get("parameters") or {}),
            schedules=list(d.get("schedules") or []),
            concurrency_limit=d.get("concurrency_limit"),
            work_pool=pool.get("name") if isinstance(pool, dict) else pool))
    return specs


def available(specs: list[DeploymentSpec], root: Path) -> tuple[list[DeploymentSpec], list[str]]:
    """The specs whose flow module exists (under ``root`` or installed), and the names of the
    others (a deployment whose flow is not written yet)."""
    ok: list[DeploymentSpec] = []
    for s in specs:
        module = s.module_and_function()[0]
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            found = False
        if found or (root / s.entrypoint.partition(":")[0]).is_file():
            ok.append(s)
    return ok, [s.name for s in specs if s not in ok]


def _schedules(spec: DeploymentSpec, interval: float | None) -> list[Any]:
    from prefect.schedules import Cron, Interval

    out: list[Any] = []
    for s in spec.schedules:
        active = bool(s.get("active", True))
        params: dict[str, Any] = dict(s.get("parameters") or {})
        tz = s.get("timezone")
        if "interval" in s:
            seconds = float(interval if interval is not None else s["interval"])
            out.append(Interval(timedelta(seconds=seconds), timezone=tz, active=active,
                                parameters=params))
        else:
            out.append(Cron(str(s["cron"]), timezone=tz, active=active, parameters=params))
    return out


def _concurrency(value: Any) -> Any:
    from prefect.client.schemas.objects import ConcurrencyLimitConfig

    if isinstance(value, dict):
        return ConcurrencyLimitConfig(**value)
    return value


def build(spec: DeploymentSpec, root: Path, *, project: str | None = None,
          interval: float | None = None, for_worker: bool = False) -> RunnerDeployment:
    """A Prefect deployment object for ``spec``.

    Args:
        spec: The deployment as prefect.yaml gives it.
        root: The directory prefect.yaml lives in (entrypoints are relative to it).
        project: Added as the ``project`` parameter when the flow takes one.
        interval: Overrides every interval schedule (tests use a few seconds).
        for_worker: Registered for a process worker: the entrypoint is prefect.yaml's and
            the worker starts from ``root``. Served deployments keep Prefect's own (the flow
            file relative to the serving process), because a deployment path makes every
            run copy that directory into the runner's working directory.
    """
    module, fn = spec.module_and_function()
    flow = getattr(importlib.import_module(module), fn)
    parameters = dict(spec.parameters)
    if project is not None and "project" in flow.parameters.properties:
        parameters.setdefault("project", project)
    deployment = flow.to_deployment(
        name=spec.name, description=spec.description, tags=spec.tags, parameters=parameters,
        schedules=_schedules(spec, interval),
        concurrency_limit=_concurrency(spec.concurrency_limit))
    if for_worker:
        deployment.entrypoint = spec.entrypoint
        deployment._path = str(root)
    return deployment  # type: ignore[no-any-return]


__all__ = ["SYNC_LIMIT", "DeploymentFileError", "DeploymentSpec", "available", "build",
           "load_specs"]
