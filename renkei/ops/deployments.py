"""The deployments of ``prefect.yaml``, read once for ``renkei serve`` and ``renkei deploy``.

``prefect.yaml`` stays the one place where schedules, parameters and tags live, so what
``prefect deploy --all`` registers, what ``renkei deploy`` registers and what ``renkei serve``
runs locally are the same deployments. Only the subset of the format renkei's file uses is
read: name, entrypoint, description, tags, parameters, schedules (interval or cron, with
timezone, active and per-schedule parameters, e.g. one mapping on its own cadence),
concurrency_limit and work_pool. Other keys Prefect knows are accepted and ignored; a key
Prefect does not know (a typo such as ``schedules`` misspelt) is an error naming it, as is
YAML that does not parse (with line and column).
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


#: Deployment keys of prefect.yaml (Prefect 3.8's own set); renkei reads the ones in
#: :class:`DeploymentSpec`, a key outside this set is a typo that would silently drop e.g.
#: every schedule.
KNOWN_KEYS = frozenset({
    "name", "version", "version_type", "tags", "description", "schedule", "schedules",
    "paused", "concurrency_limit", "flow_name", "entrypoint", "parameters",
    "enforce_parameter_schema", "build", "push", "pull", "work_pool", "triggers", "sla"})
_SCHEDULE_KEYS = frozenset({"interval", "cron", "timezone", "active", "parameters",
                            "anchor_date", "slug", "replaces"})
_COLLISION = ("ENQUEUE", "CANCEL_NEW")


def _parse(prefect_file: Path) -> dict[str, Any]:
    try:
        doc = yaml.safe_load(prefect_file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise DeploymentFileError(f"{prefect_file}{at}: not valid YAML: {problem}") from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise DeploymentFileError(f"{prefect_file}: expected a mapping with `deployments:`, "
                                  f"found a {type(doc).__name__}")
    return doc


def _check_schedule(where: str, i: int, s: Any) -> None:
    at = f"{where}.schedules[{i}]"
    if not isinstance(s, dict) or not ({"interval", "cron"} & set(s)):
        raise DeploymentFileError(f"{at}: each schedule needs `interval` (seconds) or `cron`")
    unknown = sorted(set(s) - _SCHEDULE_KEYS)
    if unknown:
        raise DeploymentFileError(f"{at}: unknown key(s) {', '.join(unknown)} (renkei reads "
                                  "interval, cron, timezone, active, parameters)")
    if "interval" in s:
        value = s["interval"]
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise DeploymentFileError(f"{at}.interval: {value!r} is not a positive number "
                                      "of seconds")
    if not isinstance(s.get("parameters") or {}, dict):
        raise DeploymentFileError(f"{at}.parameters: expected a mapping")


def _check_concurrency(where: str, value: Any) -> None:
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and value > 0):
        return
    if isinstance(value, dict):
        limit, strategy = value.get("limit"), value.get("collision_strategy", "ENQUEUE")
        if (isinstance(limit, int) and not isinstance(limit, bool) and limit > 0
                and strategy in _COLLISION):
            return
    raise DeploymentFileError(
        f"{where}.concurrency_limit: {value!r} is not a positive integer or "
        f"{{limit: N, collision_strategy: {' | '.join(_COLLISION)}}}")


def _spec(where: str, d: Any) -> DeploymentSpec:
    if not isinstance(d, dict) or not d.get("name") or not d.get("entrypoint"):
        raise DeploymentFileError(f"{where}: needs a name and an entrypoint")
    where = f"{where} ({d['name']})"
    unknown = sorted(set(d) - KNOWN_KEYS)
    if unknown:
        raise DeploymentFileError(f"{where}: unknown key(s) {', '.join(map(str, unknown))}")
    if "schedule" in d:
        raise DeploymentFileError(f"{where}: write `schedules:` as a list (renkei does not "
                                  "read the single `schedule:` form)")
    path, _, fn = str(d["entrypoint"]).partition(":")
    if not path.endswith(".py") or not fn.isidentifier():
        raise DeploymentFileError(f"{where}.entrypoint: {d['entrypoint']!r} is not "
                                  "`path/to/file.py:function`")
    for key, kind in (("tags", list), ("parameters", dict), ("schedules", list)):
        if d.get(key) is not None and not isinstance(d[key], kind):
            raise DeploymentFileError(f"{where}.{key}: expected a "
                                      f"{'list' if kind is list else 'mapping'}")
    for i, s in enumerate(d.get("schedules") or []):
        _check_schedule(where, i, s)
    _check_concurrency(where, d.get("concurrency_limit"))
    pool = d.get("work_pool")
    return DeploymentSpec(
        name=str(d["name"]), entrypoint=str(d["entrypoint"]),
        description=d.get("description"), tags=list(d.get("tags") or []),
        parameters=dict(d.get("parameters") or {}),
        schedules=list(d.get("schedules") or []),
        concurrency_limit=d.get("concurrency_limit"),
        work_pool=pool.get("name") if isinstance(pool, dict) else pool)


def load_specs(prefect_file: Path) -> list[DeploymentSpec]:
    """Parse the deployments of ``prefect_file``.

    Raises:
        DeploymentFileError: The file is missing, not YAML, or a deployment in it is
            malformed (the message names the file, the deployment and the key).
    """
    if not prefect_file.is_file():
        raise DeploymentFileError(f"{prefect_file}: no such file (the deployments live there)")
    deployments = _parse(prefect_file).get("deployments") or []
    if not isinstance(deployments, list):
        raise DeploymentFileError(f"{prefect_file}: `deployments` must be a list")
    specs = [_spec(f"{prefect_file}: deployments[{i}]", d) for i, d in enumerate(deployments)]
    seen: set[tuple[str, str]] = set()
    for s in specs:
        if (s.entrypoint, s.name) in seen:
            raise DeploymentFileError(f"{prefect_file}: deployment {s.name!r} of {s.entrypoint} "
                                      "appears twice (the second would overwrite the first)")
        seen.add((s.entrypoint, s.name))
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
        for_worker: Registered for a process worker: the entrypoint is prefect.yaml's (or
            the module path when the file is not under ``root`` but installed) and a pull step makes each run work in ``root`` (``set_working_directory``). Not a
            deployment *path*: without pull steps a worker copies that whole directory
            (``.venv`` included) into each run's temporary directory, ~30 s per run here, and
            the second run into the same directory fails on the copied symlinks. Served
            deployments keep Prefect's own (the flow file relative to the serving process).
    """
    module, fn = spec.module_and_function()
    try:
        flow = getattr(importlib.import_module(module), fn)
    except (ImportError, AttributeError) as exc:
        raise DeploymentFileError(f"deployment {spec.name}: entrypoint {spec.entrypoint} "
                                  f"cannot be loaded: {exc}") from exc
    if not hasattr(flow, "to_deployment"):
        raise DeploymentFileError(f"deployment {spec.name}: {spec.entrypoint} is not a "
                                  "Prefect flow (decorate it with @flow)")
    parameters = dict(spec.parameters)
    if project is not None and "project" in flow.parameters.properties:
        parameters.setdefault("project", project)
    try:
        deployment = flow.to_deployment(
            name=spec.name, description=spec.description, tags=spec.tags,
            parameters=parameters, schedules=_schedules(spec, interval),
            concurrency_limit=_concurrency(spec.concurrency_limit))
    except ValueError as exc:  # pydantic's ValidationError too: a bad cron, timezone, ...
        raise DeploymentFileError(f"deployment {spec.name}: {exc}") from exc
    if for_worker:
        from prefect.runner.storage import LocalStorage

        file, _, _ = spec.entrypoint.partition(":")
        # renkei's own flows named from a project's prefect.yaml are not files under the
        # project: the worker imports them by module path instead.
        deployment.entrypoint = (spec.entrypoint if (root / file).is_file()
                                 else f"{module}.{fn}")
        deployment.storage = LocalStorage(str(root))
    return deployment  # type: ignore[no-any-return]


__all__ = ["SYNC_LIMIT", "DeploymentFileError", "DeploymentSpec", "available", "build",
           "load_specs"]
