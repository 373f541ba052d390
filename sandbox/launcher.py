"""Start the sandbox: every registered vendor emulator on its own loopback port.

Vendor packages register themselves when imported::

    # sandbox/marketo/__init__.py
    from sandbox.launcher import register_emulator
    register_emulator("marketo", MarketoEmulator.from_options, default_port=18010)

The launcher imports the known vendor packages lazily (:data:`VENDOR_PACKAGES`); a missing
or broken package is skipped with a warning line, so one bad emulator never takes the
sandbox down. ``renkei sandbox`` is :func:`main`.

Example:
    >>> with Sandbox(SandboxOptions(size=100)) as sandbox:  # doctest: +SKIP
    ...     print(sandbox.describe())
"""

from __future__ import annotations

import argparse
import importlib
import logging
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from sandbox.core.app import EmulatorApp
from sandbox.core.faults import FaultConfigError, FaultPlan
from sandbox.core.server import EmulatorServer, ServerStartError
from sandbox.core.tls import TLSFiles, make_tls

__all__ = [
    "EMULATORS",
    "VENDOR_PACKAGES",
    "EmulatorSpec",
    "Sandbox",
    "SandboxOptions",
    "load_emulators",
    "main",
    "register_emulator",
]

logger = logging.getLogger("sandbox")

#: Packages imported by :func:`load_emulators`; each registers its emulator on import.
VENDOR_PACKAGES: tuple[str, ...] = ("sandbox.marketo", "sandbox.salesforce", "sandbox.smp",
                                   "sandbox.esm", "sandbox.kintone", "sandbox.hubspot",
                                   "sandbox.zoom", "sandbox.brightcove")

MIN_SIZE, MAX_SIZE = 100, 1_000_000


@dataclass
class SandboxOptions:
    """How to seed and run the sandbox.

    Attributes:
        size: Seeded people per emulator (100 to 1,000,000).
        seed: Seed of :mod:`sandbox.seed`; the same seed gives the same data.
        workdir: Where the TLS files go; ``None`` makes a fresh temporary directory (so two
            sandboxes never share, or overwrite, a CA).
        faults: Fault rules (mappings with :class:`~sandbox.core.faults.FaultRule` fields)
            installed at start. An extra key ``emulator`` limits a rule to one emulator;
            without it the rule goes to every emulator.
    """

    size: int = 2000
    seed: int = 42
    workdir: Path | None = None
    faults: list[dict[str, Any]] | None = None

    def __post_init__(self) -> None:
        if not MIN_SIZE <= self.size <= MAX_SIZE:
            raise ValueError(
                f"sandbox size must be between {MIN_SIZE:,} and {MAX_SIZE:,}, got {self.size:,}"
            )
        if self.workdir is not None:
            self.workdir = Path(self.workdir)


EmulatorFactory = Callable[[SandboxOptions], EmulatorApp]


@dataclass(frozen=True)
class EmulatorSpec:
    """How the launcher runs one registered emulator."""

    name: str
    factory: EmulatorFactory
    tls: bool
    default_port: int


#: Registered emulator factories by name (filled by :func:`register_emulator`).
EMULATORS: dict[str, EmulatorFactory] = {}
_SPECS: dict[str, EmulatorSpec] = {}
_LOAD_LOCK = threading.Lock()


def register_emulator(
    name: str, factory: EmulatorFactory, *, tls: bool = False, default_port: int
) -> None:
    """Make an emulator known to the launcher. Registering a name again replaces it.

    Args:
        name: Vendor name, e.g. ``"salesforce"``.
        factory: Builds the seeded emulator from the options.
        tls: Serve it over HTTPS with the sandbox CA.
        default_port: Its loopback port (the 18xxx range; 0 picks a free one).
    """
    if not 0 <= default_port <= 65535:
        raise ValueError(f"emulator {name!r}: port {default_port} out of range")
    EMULATORS[name] = factory
    _SPECS[name] = EmulatorSpec(name, factory, tls, default_port)


def load_emulators(packages: Iterable[str] | None = None) -> list[str]:
    """Import the vendor packages (default :data:`VENDOR_PACKAGES`) so they register.

    Returns:
        One warning line per package that is missing or failed to import.
    """
    problems: list[str] = []
    with _LOAD_LOCK:
        for package in VENDOR_PACKAGES if packages is None else packages:
            try:
                importlib.import_module(package)
            except Exception as exc:  # noqa: BLE001 - a broken vendor must not stop the others
                line = f"warning: emulator package {package} skipped: {type(exc).__name__}: {exc}"
                logger.warning(line)
                problems.append(line)
    return problems


def _split_faults(items: list[dict[str, Any]] | None, names: list[str]) -> dict[str, FaultPlan]:
    per_emulator: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for index, item in enumerate(items or []):
        rule = dict(item)
        target = rule.pop("emulator", None)
        if target is not None and target not in per_emulator:
            raise FaultConfigError(
                f"faults[{index}]: emulator {target!r} is not started ({', '.join(names)})"
            )
        for name in [target] if target else names:
            per_emulator[name].append(rule)
    return {name: FaultPlan.from_config(rules) for name, rules in per_emulator.items()}


class Sandbox:
    """The running emulators of one sandbox.

    Args:
        options: Seed, size, workdir and faults.
        ports: Port per emulator name, overriding the registered defaults (0 = free port).

    Attributes:
        apps: The emulator apps by name (to inspect or edit them in-process).
        urls: Base URL by name.
        credentials: Client credentials by name.
        ca_path: The CA file to trust for the HTTPS emulators (``None`` if there are none).
        warnings: Warning lines from loading the vendor packages.
    """

    def __init__(
        self, options: SandboxOptions | None = None, *, ports: Mapping[str, int] | None = None
    ) -> None:
        self.options = options or SandboxOptions()
        self.ports = dict(ports or {})
        self.apps: dict[str, EmulatorApp] = {}
        self.servers: dict[str, EmulatorServer] = {}
        self.tls: TLSFiles | None = None
        self.warnings: list[str] = []
        self._tmpdir: Path | None = None

    @property
    def urls(self) -> dict[str, str]:
        return {name: server.url for name, server in self.servers.items()}

    @property
    def credentials(self) -> dict[str, dict[str, str]]:
        return {name: app.credentials() for name, app in self.apps.items()}

    @property
    def ca_path(self) -> Path | None:
        return self.tls.ca_path if self.tls else None

    def start(self, names: Iterable[str] | None = None) -> Self:
        """Build, seed and start the emulators (all registered ones by default).

        Raises:
            KeyError: A requested emulator is not registered.
            FaultConfigError: ``options.faults`` is malformed.
            ServerStartError: A port is taken; the emulators already started are stopped.
        """
        self.warnings = load_emulators()
        wanted = list(names) if names is not None else sorted(EMULATORS)
        unknown = [n for n in wanted if n not in EMULATORS]
        if unknown:
            raise KeyError(
                f"unknown emulator(s) {', '.join(unknown)}; registered: {', '.join(sorted(EMULATORS)) or 'none'}"
            )
        plans = _split_faults(self.options.faults, wanted)
        try:
            for name in wanted:
                self._start_one(_SPECS[name], plans[name])
        except BaseException:
            self.stop()
            raise
        return self

    def _start_one(self, spec: EmulatorSpec, plan: FaultPlan) -> None:
        app = spec.factory(self.options)
        for rule in plan.rules():
            app.faults.add(rule)
        tls = self._tls() if spec.tls else None
        server = EmulatorServer(
            app.asgi(), name=spec.name, port=self.ports.get(spec.name, spec.default_port), tls=tls
        )
        server.start()
        self.apps[spec.name] = app
        self.servers[spec.name] = server

    def _tls(self) -> TLSFiles:
        if self.tls is None:
            workdir = self.options.workdir
            if workdir is None:
                workdir = self._tmpdir = Path(tempfile.mkdtemp(prefix="renkei-sandbox-"))
            self.tls = make_tls(workdir / "tls")
        return self.tls

    def stop(self) -> None:
        """Stop every emulator (safe to call twice)."""
        for server in self.servers.values():
            server.stop()
        self.servers.clear()
        self.apps.clear()
        if self._tmpdir is not None:  # only the directory we made ourselves
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None
            self.tls = None

    def describe(self) -> str:
        """A block for the terminal: each emulator's URL and credentials, and the CA file."""
        size, seed = self.options.size, self.options.seed
        lines = [
            f"renkei sandbox: {len(self.servers)} emulator(s), {size:,} seeded people each (seed {seed})"
        ]
        width = max((len(n) for n in self.servers), default=0)
        for name, server in self.servers.items():
            lines.append(f"  {name:<{width}}  {server.url}")
            creds = self.apps[name].credentials()
            key_width = max((len(k) for k in creds), default=0)
            lines += [
                f"  {'':<{width}}    {key:<{key_width}}  {value}" for key, value in creds.items()
            ]
        if self.ca_path:
            lines.append(f"  CA file: {self.ca_path}")
            lines.append(
                "    (clients trust it with verify=<CA file>, or REQUESTS_CA_BUNDLE for requests)"
            )
        if self.servers:
            lines.append(
                "  inspect: <url>/_sandbox/calls, <url>/_sandbox/records/<object>, <url>/_sandbox/faults"
            )
        lines += [f"  {w}" for w in self.warnings]
        return "\n".join(lines)

    def __enter__(self) -> Self:
        if not self.servers:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    """``renkei sandbox``: start the emulators, print where they are, serve until Ctrl-C."""
    parser = argparse.ArgumentParser(
        prog="renkei sandbox", description="Run the vendor API emulators."
    )
    parser.add_argument("names", nargs="*", help="emulators to start (default: all)")
    parser.add_argument(
        "--size", type=int, default=2000, help="seeded people per emulator (100..1,000,000)"
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workdir", type=Path, default=None, help="where to write the TLS files")
    args = parser.parse_args(argv)
    try:
        options = SandboxOptions(size=args.size, seed=args.seed, workdir=args.workdir)
    except ValueError as exc:
        parser.error(str(exc))
    sandbox = Sandbox(options)
    try:
        sandbox.start(args.names or None)
        print(sandbox.describe(), flush=True)
        threading.Event().wait()
    except (KeyError, FaultConfigError, ServerStartError) as exc:
        print(f"error: {exc.args[0] if isinstance(exc, KeyError) else exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
    return 0


if __name__ == "__main__":
    # Run the imported module's main, not this __main__ copy: vendor packages register into
    # ``sandbox.launcher.EMULATORS``, which is a different dict from ``__main__.EMULATORS``.
    from sandbox.launcher import main as _main

    raise SystemExit(_main())
