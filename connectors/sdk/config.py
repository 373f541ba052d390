"""Connection configs: validated against the connector's ``spec``, secrets wrapped.

A spec is a JSON Schema; properties marked ``"x-secret": true`` are wrapped in
:class:`~connectors.sdk.secrets.Secret` after validation, and validation messages about them
never show the value (a wrong-typed password must not end up in a log line).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jsonschema

from connectors.sdk.errors import ConfigurationError
from connectors.sdk.secrets import Secret


def secret_fields(spec: Mapping[str, Any]) -> frozenset[str]:
    """Top-level property names the spec marks ``x-secret``."""
    props = spec.get("properties", {})
    return frozenset(k for k, v in props.items() if isinstance(v, Mapping) and v.get("x-secret"))


def http_options(*, timeout_s: float = 30, backoff: bool = False) -> dict[str, dict[str, Any]]:
    """The config properties every HTTP connector offers, for its ``spec``.

    ``timeout_s`` (per request) and ``retry_attempts``; with ``backoff``, also
    ``retry_base_delay_s``. Spread them into the spec's properties::

        "properties": {"base_url": {...}, **http_options(timeout_s=60)}
    """
    props: dict[str, dict[str, Any]] = {
        "timeout_s": {"type": "number", "exclusiveMinimum": 0, "default": timeout_s,
                      "description": "Timeout of one HTTP request (connect and read)."},
        "retry_attempts": {"type": "integer", "minimum": 1, "maximum": 10, "default": 4,
                           "description": "Tries per request, the first included."},
    }
    if backoff:
        props["retry_base_delay_s"] = {
            "type": "number", "minimum": 0, "default": 0.5,
            "description": "First backoff step (doubles, full jitter)."}
    return props


def load_config(spec: Mapping[str, Any], raw: Mapping[str, Any], *, where: str) -> dict[str, Any]:
    """Validate a raw config against ``spec`` and wrap its secrets.

    Args:
        spec: The connector's JSON Schema.
        raw: The config as read from the project file and the environment.
        where: Names the connection in error messages (``connection 'marketo'``).

    Raises:
        ConfigurationError: listing every problem, with secret values masked.
    """
    secrets = secret_fields(spec)
    plain = {k: (v.get() if isinstance(v, Secret) else v) for k, v in raw.items()}
    validator = jsonschema.Draft202012Validator(spec)
    problems = []
    for err in sorted(validator.iter_errors(plain), key=lambda e: list(e.absolute_path)):
        path = ".".join(str(p) for p in err.absolute_path)
        top = str(err.absolute_path[0]) if err.absolute_path else ""
        if top in secrets:
            message = f"invalid value ({err.validator} check failed; value hidden)"
        else:
            message = err.message
        problems.append(f"{path or '(root)'}: {message}")
    if problems:
        raise ConfigurationError(f"{where}: " + "; ".join(problems))
    return {k: (Secret(str(v)) if k in secrets else v) for k, v in plain.items()}
