"""The project: which connections exist, where the mappings and the state store live.

A project is a ``renkei.yaml``::

    database: sqlite:///.renkei/renkei.db     # or RENKEI_DATABASE_URL
    mappings: mappings                         # directory of mapping files
    rules: mappings/rules                      # rule files (qualification, routing, alerts)
    ca_bundle: null                            # extra CA to trust (the sandbox's)
    connections:
      marketo:
        type: marketo                          # a connector from the renkei.connectors group
        config:
          base_url: https://123-ABC-456.mktorest.com
          client_id: ${MARKETO_CLIENT_ID}
          client_secret: ${MARKETO_CLIENT_SECRET}   # secrets come from the environment...
          # ...or from a file only its owner can read: ${file:/run/secrets/marketo}
        quota: {daily: 50000, pause_low_priority_at: 0.8}   # the account's shared budget
    syncs:                                     # per mapping: its place in that budget
      marketo-leads: {priority: high}          # high | normal | low; allocation: 20% or 5000
                                               # (see renkei/ops/quota.py)

Values are never logged; ``${NAME}`` that is not set is an error naming the key, not the value.
"""

from __future__ import annotations

import logging
import os
import re
import stat
from collections.abc import Mapping as TMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from connectors.sdk.base import Connector, ConnectorContext
from connectors.sdk.cache import DEFAULT_SCHEMA_TTL_S, schema_cache_at
from connectors.sdk.errors import ConfigurationError
from connectors.sdk.ledger import MemoryLedger
from connectors.sdk.registry import connector_class
from connectors.sdk.types import StreamSpec
from renkei.mapping import Mapping, load_mappings
from renkei.rules import RuleSet

log = logging.getLogger("renkei.project")

SYNC_ORDER = ("lead", "account", "activity", "deal", "alert")
"""Order of a full sync: people first (so an activity or deal finds its lead and only a
person unknown to every lead system is captured as new), alerts last (the rules of the
earlier runs create them)."""
_REF = re.compile(r"\$\{([^}]+)\}")
PROJECT_FILE = "renkei.yaml"


class ProjectError(Exception):
    """The project file is missing or wrong."""


def _resolve(value: Any, where: str) -> Any:
    if isinstance(value, dict):
        return {k: _resolve(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def sub(match: re.Match[str]) -> str:
        ref = match.group(1)
        if ref.startswith("file:"):
            path = Path(ref[5:]).expanduser()
            try:
                mode = path.stat().st_mode
            except OSError:
                raise ProjectError(f"{where}: secret file {path} does not exist") from None
            if mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise ProjectError(f"{where}: secret file {path} is readable by others "
                                   f"(mode {stat.filemode(mode)}); chmod 600 it")
            return path.read_text(encoding="utf-8").strip()
        name = ref.removeprefix("env:")
        if name not in os.environ:
            raise ProjectError(f"{where}: environment variable {name} is not set")
        return os.environ[name]

    return _REF.sub(sub, value)


@dataclass
class Project:
    """A loaded project. Connectors are created lazily and shared within the process."""

    root: Path
    database_url: str | None
    mappings_dir: Path
    # Out of the repr: a project file may hold a secret literally instead of as ${...}.
    connections: dict[str, dict[str, Any]] = field(repr=False)
    ca_bundle: str | None = None
    webhooks: dict[str, dict[str, Any]] = field(default_factory=dict)
    """``webhooks:`` sources as written (secrets unresolved; see :meth:`webhook_settings`)."""
    rules_dir: Path | None = None
    """Rule files; None (or a missing directory): no rules phase."""
    syncs: dict[str, dict[str, Any]] = field(default_factory=dict)
    """``syncs:`` per mapping name: ``priority`` and ``allocation`` (renkei/ops/quota.py)."""
    ledger: MemoryLedger = field(default_factory=MemoryLedger)
    _connectors: dict[str, Connector] = field(default_factory=dict, repr=False)
    _mappings: list[Mapping] | None = field(default=None, repr=False)
    _rules: RuleSet | None = field(default=None, repr=False)
    _unconnected: list[str] = field(default_factory=list, repr=False)

    @classmethod
    def load(cls, path: Path | str | None = None) -> Project:
        """Load ``renkei.yaml`` from ``path`` (a file or directory), ``RENKEI_PROJECT``, or ``.``."""
        p = Path(path or os.environ.get("RENKEI_PROJECT") or ".")
        if p.is_dir():
            p = p / PROJECT_FILE
        if not p.exists():
            raise ProjectError(f"{p}: no project file (run `renkei demo`, or write one: see README)")
        try:
            raw = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ProjectError(f"{p}: not valid YAML: {exc}") from None
        if not isinstance(raw, dict):
            raise ProjectError(f"{p}: must be a mapping of settings")
        root = p.parent.resolve()
        conns = raw.get("connections") or {}
        if not isinstance(conns, dict):
            raise ProjectError(f"{p}: connections must be a mapping of name → settings")
        from renkei.ops.quota import check_quota, check_syncs

        for name, c in conns.items():
            if not isinstance(c, dict) or "type" not in c:
                raise ProjectError(f"{p}: connections.{name}: needs a `type`")
            if c.get("quota") is not None:
                check_quota(c["quota"], f"{p}: connections.{name}.quota")
        syncs = raw.get("syncs") or {}
        check_syncs(syncs, f"{p}: syncs")
        mappings = raw.get("mappings", "mappings")
        rules = raw.get("rules", f"{mappings}/rules")
        ca = raw.get("ca_bundle")
        hooks = raw.get("webhooks") or {}
        if not isinstance(hooks, dict) or not all(isinstance(v, dict) for v in hooks.values()):
            raise ProjectError(f"{p}: webhooks must be a mapping of source name → settings")
        return cls(root=root, database_url=raw.get("database"),
                   mappings_dir=(root / mappings).resolve(), connections=conns,
                   rules_dir=(root / rules).resolve(),
                   ca_bundle=str((root / ca).resolve()) if ca else None, webhooks=hooks,
                   syncs=syncs)

    def connector(self, name: str) -> Connector:
        """The connector of connection ``name`` (created on first use)."""
        if name not in self._connectors:
            settings = self.connections.get(name)
            if settings is None:
                known = ", ".join(sorted(self.connections)) or "none"
                raise ConfigurationError(f"no connection {name!r} in the project (known: {known})")
            cls = connector_class(str(settings["type"]))
            config = _resolve(settings.get("config") or {}, f"connections.{name}.config")
            # Describe results are kept across runs under the project's state directory:
            # a connection's `describe_cache_ttl_s` (or RENKEI_DESCRIBE_CACHE_TTL_S), 0 = off.
            ttl = settings.get("describe_cache_ttl_s", os.environ.get(
                "RENKEI_DESCRIBE_CACHE_TTL_S", DEFAULT_SCHEMA_TTL_S))
            schemas = schema_cache_at(self.root / ".renkei" / "cache", ttl,
                                      where=f"connections.{name}.describe_cache_ttl_s")
            context = ConnectorContext(connection=name, ledger=self.ledger,
                                       ca_bundle=self.ca_bundle, schema_cache=schemas)
            self._connectors[name] = cls(config, context=context)
        return self._connectors[name]

    def webhook_settings(self, name: str) -> dict[str, Any]:
        """Settings of webhook source ``name`` with ``${...}`` references resolved."""
        resolved = _resolve(self.webhooks[name], f"webhooks.{name}")
        assert isinstance(resolved, dict)
        return resolved

    def stream_lookup(self, connection: str, stream: str) -> StreamSpec | None:
        """The stream spec, or None if the connection cannot tell (unreachable, unknown)."""
        try:
            return self.connector(connection).stream(stream)
        except Exception:  # noqa: BLE001 — offline validation skips system-field checks
            return None

    def mappings(self) -> list[Mapping]:
        """The mappings this project runs: those whose connection it configures.

        A mapping directory is often shared (this repo's ``mappings/`` has one file per
        vendor); files for connections the project does not define are left out and listed
        by :meth:`unconnected_mappings` so ``renkei status`` and the run log can say so.
        """
        if self._mappings is None:
            every = load_mappings(self.mappings_dir)
            self._mappings = [m for m in every if m.connection in self.connections]
            self._unconnected = [m.name for m in every if m.connection not in self.connections]
            if self._unconnected:
                log.info("mappings without a connection in the project, not run: %s",
                         ", ".join(self._unconnected))
        return self._mappings

    def unconnected_mappings(self) -> list[str]:
        """Names of mapping files whose connection the project does not define."""
        self.mappings()
        return list(self._unconnected)

    def rules(self) -> RuleSet | None:
        """The rule set of ``rules_dir`` (None without one).

        Raises:
            renkei.mapping.MappingError: a rule file is invalid.
        """
        if self._rules is None and self.rules_dir is not None and self.rules_dir.is_dir():
            self._rules = RuleSet.load(self.rules_dir)
            self._rules.email_keys = tuple(dict.fromkeys(
                k.name for m in self.mappings_for("lead") for k in m.match_keys
                if list(k.fields) == ["email"])) or ("email",)
        return self._rules

    def mappings_for(self, entity: str) -> list[Mapping]:
        return [m for m in self.mappings() if m.entity == entity]

    def entities(self) -> list[str]:
        """Mapped entities in sync order (:data:`SYNC_ORDER`, then any other by name)."""
        mapped = {m.entity for m in self.mappings()}
        return sorted(mapped, key=lambda e: (SYNC_ORDER.index(e) if e in SYNC_ORDER
                                             else len(SYNC_ORDER), e))

    def close(self) -> None:
        for c in self._connectors.values():
            c.close()
        self._connectors.clear()


def write_project(path: Path, settings: TMapping[str, Any]) -> Path:
    """Write a ``renkei.yaml`` (used by the demo)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(dict(settings), allow_unicode=True, sort_keys=False),
                    encoding="utf-8")
    return path
