"""Components registered by their ``type`` name, and the ``type: custom`` escape hatch.

Each kind of component (``auth``, ``paginator``, ``decoder``, ``incremental``) has its own
registry: a plain dict from type name to a factory ``(spec, context) -> component``. A
component module registers itself with :func:`component`; adding a pagination style is one
decorated function, not an edit to a central factory.

``type: custom`` loads ``class_name: "package.module:Class"`` and calls
``Class(options, context)``; the class must subclass the kind's base class, so a typo or a
wrong class fails when the connector is built, not half-way through a sync.

Example:
    >>> @component("decoder", "upper_json")
    ... def _upper(spec, context):
    ...     return "a decoder"
    >>> "upper_json" in REGISTRIES["decoder"]
    True
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from connectors.sdk.errors import ConfigurationError

__all__ = ["REGISTRIES", "BuildContext", "build", "component", "load_class"]

T = TypeVar("T")
Factory = Callable[[Mapping[str, Any], "BuildContext"], Any]

REGISTRIES: dict[str, dict[str, Factory]] = {
    "auth": {}, "paginator": {}, "decoder": {}, "incremental": {},
}
_BASES: dict[str, type] = {}


@dataclass
class BuildContext:
    """What a component factory may use.

    Attributes:
        config: The validated connection config (secrets wrapped).
        base_url: The rendered API root.
        connection: The connection name.
        where: Where in the file the component is (``streams[0].paginator``), for errors.
    """

    config: Mapping[str, Any]
    base_url: str
    connection: str
    where: str = ""
    extras: dict[str, Any] = field(default_factory=dict)


def component(kind: str, type_name: str) -> Callable[[Factory], Factory]:
    """Register a factory for ``type: <type_name>`` components of ``kind``."""
    def register(factory: Factory) -> Factory:
        REGISTRIES[kind][type_name] = factory
        return factory
    return register


def base_class(kind: str, cls: type) -> None:
    """Declare the class a ``type: custom`` component of ``kind`` must subclass."""
    _BASES[kind] = cls


def load_class(class_name: str, *, where: str) -> type:
    """The class named ``module.path:Class``.

    Raises:
        ConfigurationError: the module or class cannot be loaded.
    """
    module_name, _, attr = class_name.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigurationError(f"{where}: cannot import {module_name}: {exc}") from None
    cls = getattr(module, attr, None)
    if not isinstance(cls, type):
        raise ConfigurationError(f"{where}: {module_name} has no class {attr}")
    return cls


def build(kind: str, spec: Mapping[str, Any], context: BuildContext) -> Any:
    """Build the component ``spec`` of ``kind`` by its ``type``.

    Raises:
        ConfigurationError: unknown type, or a custom class of the wrong kind.
    """
    type_name = str(spec.get("type"))
    if type_name == "custom":
        cls = load_class(str(spec["class_name"]), where=context.where)
        base = _BASES.get(kind)
        if base is not None and not issubclass(cls, base):
            raise ConfigurationError(f"{context.where}: {spec['class_name']} is not a "
                                     f"{base.__name__}")
        return cls(dict(spec.get("options") or {}), context)
    factory = REGISTRIES[kind].get(type_name)
    if factory is None:
        known = ", ".join(sorted(REGISTRIES[kind]))
        raise ConfigurationError(f"{context.where}: no {kind} type {type_name!r} (known: "
                                 f"{known}, custom)")
    return factory(spec, context)
