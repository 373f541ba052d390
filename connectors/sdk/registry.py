"""Connectors are found through the ``renkei.connectors`` entry-point group.

A partner's pip package declares, in its ``pyproject.toml``::

    [project.entry-points."renkei.connectors"]
    acme = "renkei_acme:AcmeConnector"

and renkei finds it without any change to this repository. A plug-in that fails to import
is reported with its error, and the others still load.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import entry_points

from connectors.sdk.base import Connector
from connectors.sdk.errors import ConfigurationError

GROUP = "renkei.connectors"


@dataclass(frozen=True)
class PluginInfo:
    """One installed connector plug-in, or why it could not be loaded."""

    name: str
    target: str
    connector: type[Connector] | None
    error: str | None = None


def discover() -> dict[str, PluginInfo]:
    """Every connector registered in the entry-point group, loaded or with its error."""
    found: dict[str, PluginInfo] = {}
    for ep in entry_points(group=GROUP):
        try:
            cls = ep.load()
            if not (isinstance(cls, type) and issubclass(cls, Connector)):
                raise TypeError(f"{ep.value} is not a Connector subclass")
            found[ep.name] = PluginInfo(ep.name, ep.value, cls)
        except Exception as exc:  # noqa: BLE001 - a broken plug-in must not take the others down
            found[ep.name] = PluginInfo(ep.name, ep.value, None, f"{type(exc).__name__}: {exc}")
    return found


def connector_class(type_name: str) -> type[Connector]:
    """The connector class registered as ``type_name``.

    Raises:
        ConfigurationError: not installed, or installed but broken.
    """
    info = discover().get(type_name)
    if info is None:
        known = ", ".join(sorted(discover())) or "none"
        raise ConfigurationError(f"no connector type {type_name!r} is installed (installed: {known})")
    if info.connector is None:
        raise ConfigurationError(f"connector {type_name!r} failed to load: {info.error}")
    return info.connector
