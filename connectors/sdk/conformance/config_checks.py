"""Checks of the connection spec, config validation and bad credentials."""

from __future__ import annotations

import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jsonschema

from connectors.sdk.base import Connector
from connectors.sdk.conformance.errors import ConformanceError
from connectors.sdk.conformance.secrets import secret_properties, secret_values
from connectors.sdk.errors import AuthenticationError, ConfigurationError, RetriableError

__all__ = [
    "ConnectorFactory",
    "check_bad_config_rejected",
    "check_bad_credentials",
    "check_good_credentials",
    "check_spec",
]

ConnectorFactory = Callable[[Mapping[str, Any]], Connector]
"""Builds a connector from a raw config (the suite adds a context with a fresh ledger)."""

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,),
    "array": (list,), "object": (dict,), "null": (type(None),),
}
_WRONG_VALUES: tuple[Any, ...] = (["not", "valid"], {"not": "valid"}, 12345, "not-valid", True)


def check_spec(connector_class: type[Connector]) -> None:
    """The config spec is a valid Draft 2020-12 JSON Schema and every secret is marked.

    A property whose name looks like a credential (password, secret, token, key, apiKey...)
    must carry ``"x-secret": true``, or ``"x-secret": false`` to say it is not one.

    Raises:
        ConformanceError: naming the schema error or each unmarked property.
    """
    where = f"{connector_class.__name__}.spec"
    spec = connector_class.spec
    if not isinstance(spec, Mapping):
        raise ConformanceError(f"{where} is a {type(spec).__name__}, not a JSON Schema object")
    try:
        jsonschema.Draft202012Validator.check_schema(spec)
    except jsonschema.SchemaError as exc:
        path = "/".join(str(p) for p in exc.absolute_path) or "(root)"
        raise ConformanceError(f"{where} is not a valid JSON Schema (Draft 2020-12) at "
                               f"{path}: {exc.message}") from None
    unmarked = [path for path, looks, mark in secret_properties(spec)
                if looks and mark is None]
    if unmarked:
        raise ConformanceError(
            f"{where}: propert{'ies' if len(unmarked) > 1 else 'y'} {', '.join(unmarked)} "
            "look(s) like a secret but lack \"x-secret\": true (set \"x-secret\": false if "
            "it is not a secret), so its value would show in logs and reprs")
    wrong = [path for path, _, mark in secret_properties(spec)
             if mark is not None and not isinstance(mark, bool)]
    if wrong:
        raise ConformanceError(f"{where}: \"x-secret\" must be true or false at "
                               f"{', '.join(wrong)}")


def _types_of(prop: Mapping[str, Any]) -> list[str]:
    declared = prop.get("type")
    if isinstance(declared, str):
        return [declared]
    if isinstance(declared, list):
        return [str(t) for t in declared]
    return []


def _wrong_value(types: Sequence[str]) -> Any:
    for value in _WRONG_VALUES:
        fits = any(isinstance(value, _JSON_TYPES.get(t, ())) and
                   not (t in ("integer", "number") and isinstance(value, bool)) for t in types)
        if not fits:
            return value
    return None


def bad_configs(spec: Mapping[str, Any],
                good: Mapping[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """``(what, property, config)``: the good config with one required property dropped, or
    one typed property given a value of the wrong type."""
    cases: list[tuple[str, str, dict[str, Any]]] = []
    for name in spec.get("required", []) or []:
        if name in good:
            cases.append((f"without required {name!r}", str(name),
                          {k: v for k, v in good.items() if k != name}))
    props = spec.get("properties", {})
    if isinstance(props, Mapping):
        for name, prop in props.items():
            types = _types_of(prop) if isinstance(prop, Mapping) else []
            wrong = _wrong_value(types) if types else None
            if wrong is not None:
                cases.append((f"{name!r} set to {type(wrong).__name__} (spec: {'/'.join(types)})",
                              str(name), {**good, name: wrong}))
    return cases


def check_bad_config_rejected(connector_class: type[Connector], factory: ConnectorFactory,
                              good_config: Mapping[str, Any]) -> None:
    """Configs missing a required property or holding a wrong-typed one are refused.

    Each must raise :class:`ConfigurationError` from the constructor, whose message names the
    property and shows no secret of the config.

    Raises:
        ConformanceError: a bad config was accepted, crashed, or got an unclear message.
    """
    where = f"{connector_class.__name__}(config)"
    cases = bad_configs(connector_class.spec, good_config)
    if not cases:
        raise ConformanceError(f"{connector_class.__name__}.spec declares no required and no "
                               "typed properties: no bad config can be told from a good one")
    secrets = secret_values(connector_class.spec, good_config)
    for what, prop, config in cases:
        try:
            connector = factory(config)
        except ConfigurationError as exc:
            message = str(exc)
            if prop not in message:
                raise ConformanceError(f"{where} {what}: the ConfigurationError does not name "
                                       f"the property {prop!r}: {message!r}") from None
            if any(s in message for s in secrets):
                raise ConformanceError(f"{where} {what}: the ConfigurationError shows a secret "
                                       "value from the config") from None
            continue
        except Exception as exc:  # noqa: BLE001 - partner code may raise anything
            raise ConformanceError(f"{where} {what} raised {type(exc).__name__} instead of "
                                   "ConfigurationError (validate the config against spec "
                                   "before using it)") from None
        connector.close()
        raise ConformanceError(f"{where} {what} was accepted: the spec or the constructor "
                               "must refuse it with a ConfigurationError")


def check_good_credentials(factory: ConnectorFactory, config: Mapping[str, Any]) -> None:
    """``check()`` succeeds with the partner's working config.

    Raises:
        ConformanceError: it raised.
    """
    with factory(config) as connector:
        try:
            connector.check()
        except Exception as exc:
            raise ConformanceError(f"{type(connector).__name__}.check() failed with the "
                                   f"connector_config fixture: {type(exc).__name__}: "
                                   f"{exc}") from exc


def _chain_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)) + repr(exc)


def check_bad_credentials(connector_class: type[Connector], factory: ConnectorFactory,
                          bad_config: Mapping[str, Any],
                          good_config: Mapping[str, Any] | None = None) -> None:
    """``check()`` with wrong credentials raises :class:`AuthenticationError`, cleanly.

    Clean means: an AuthenticationError (not a RetriableError: retrying wrong credentials
    only locks the account), and no secret of either config anywhere in its message, its
    repr or the traceback of the whole chain (``__cause__``, ``__context__``).

    Raises:
        ConformanceError: check() passed, raised something else, or leaked a secret.
    """
    name = connector_class.__name__
    try:
        connector = factory(bad_config)
    except ConfigurationError as exc:
        raise ConformanceError(f"{name}(bad_credentials_config) was refused as a config error "
                               f"({exc}); the fixture must be well-formed with only the "
                               "credentials wrong") from None
    secrets = secret_values(connector_class.spec, bad_config)
    if good_config is not None:
        secrets += secret_values(connector_class.spec, good_config)
    caught: BaseException | None = None
    with connector:
        try:
            connector.check()
        except Exception as exc:  # noqa: BLE001 - partner code may raise anything
            caught = exc
    if caught is None:
        raise ConformanceError(f"{name}.check() passed with bad_credentials_config: it must "
                               "prove the credentials by calling the vendor")
    if not isinstance(caught, AuthenticationError):
        raise ConformanceError(f"{name}.check() with bad credentials raised "
                               f"{type(caught).__name__} ({caught}), not AuthenticationError")
    if isinstance(caught, RetriableError):
        raise ConformanceError(f"{name}.check() with bad credentials raised "
                               f"{type(caught).__name__}, which is also a RetriableError: "
                               "retrying wrong credentials can lock the account")
    text = _chain_text(caught)
    if any(s in text for s in secrets):
        raise ConformanceError(f"{name}.check() with bad credentials raised "
                               f"{type(caught).__name__} whose message, repr or chained "
                               "exceptions show a secret value of the config")
