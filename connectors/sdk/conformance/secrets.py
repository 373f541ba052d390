"""Which config properties hold secrets, by their marking and by their names."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from connectors.sdk.secrets import Secret

__all__ = ["MIN_SECRET_LEN", "looks_secret", "secret_properties", "secret_values"]

MIN_SECRET_LEN = 4
"""Shorter secret values are not searched for: ``abc`` would match everywhere."""

_SECRET_PARTS = ("password", "passwd", "secret", "token", "apikey", "privatekey",
                 "credential", "passphrase")
_WORDS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


def looks_secret(name: str) -> bool:
    """True when a property name says it holds a secret (``client_secret``, ``apiKey``).

    Example:
        >>> [looks_secret(n) for n in ("client_secret", "apiKey", "key", "keyword", "base_url")]
        [True, True, True, False, False]
    """
    words = [w.lower() for w in _WORDS.findall(name)]
    joined = "".join(words)
    return "key" in words or any(part in joined for part in _SECRET_PARTS)


def secret_properties(spec: Mapping[str, Any],
                      prefix: str = "") -> Iterator[tuple[str, bool, object]]:
    """``(path, looks_secret, x_secret)`` for every property of the spec, nested ones included.

    ``x_secret`` is the raw ``x-secret`` value: True (a secret), False (declared not a
    secret: a ``lookup_key`` is no credential) or None (not said).
    """
    props = spec.get("properties")
    if not isinstance(props, Mapping):
        return
    for name, sub in props.items():
        if not isinstance(sub, Mapping):
            continue
        path = f"{prefix}{name}"
        yield path, looks_secret(str(name)), sub.get("x-secret")
        yield from secret_properties(sub, f"{path}.")
        items = sub.get("items")
        if isinstance(items, Mapping):
            yield from secret_properties(items, f"{path}[].")


def secret_values(spec: Mapping[str, Any], config: Mapping[str, Any]) -> list[str]:
    """The plain values of every secret (marked or secret-looking) property in ``config``."""
    found: list[str] = []

    def walk(node_spec: Mapping[str, Any], value: Any) -> None:
        props = node_spec.get("properties")
        if not isinstance(props, Mapping) or not isinstance(value, Mapping):
            return
        for name, sub in props.items():
            if name not in value or not isinstance(sub, Mapping):
                continue
            item = value[name]
            secret = sub.get("x-secret") is True or (
                looks_secret(str(name)) and sub.get("x-secret") is not False)
            if secret and isinstance(item, Secret | str | int):
                text = item.get() if isinstance(item, Secret) else str(item)
                if len(text) >= MIN_SECRET_LEN:
                    found.append(text)
            walk(sub, item)

    walk(spec, config)
    return found
