"""The declarative REST connector: a connector described by one YAML file.

For APIs without a Python client (Shanon SMP, eセールスマネージャー, in-house systems). The
file declares the base URL, the config spec, auth, streams (path, record selector, paginator,
incremental parameter, schema), write endpoints and error rules; it is checked against
``schemas/declarative-connector.schema.json`` with ``file:line:col`` diagnostics.

Public API::

    DeclarativeConnector   the Connector; subclass with ``definition_file`` or ``from_file``
    Definition, DefinitionError, load_definition, parse_definition
    component, build, BuildContext, REGISTRIES   components by type name
    DeclarativeAuth, Paginator, PageRequest, Decoder, Incremental   bases for ``type: custom``
    TemplateError          a ``{root.key}`` template is malformed or not allowed

Example:
    >>> from connectors.declarative import DeclarativeConnector
    >>> from connectors.smp import SmpConnector
    >>> issubclass(SmpConnector, DeclarativeConnector), SmpConnector.name
    (True, 'smp')
"""

from connectors.declarative.auth import DeclarativeAuth
from connectors.declarative.codecs import Decoder
from connectors.declarative.connector import DeclarativeConnector
from connectors.declarative.incremental import Incremental
from connectors.declarative.loader import (
    Definition,
    DefinitionError,
    load_definition,
    parse_definition,
)
from connectors.declarative.pagination import PageRequest, Paginator
from connectors.declarative.registry import REGISTRIES, BuildContext, build, component
from connectors.declarative.templates import TemplateError

__all__ = [
    "REGISTRIES",
    "BuildContext",
    "DeclarativeAuth",
    "DeclarativeConnector",
    "Decoder",
    "Definition",
    "DefinitionError",
    "Incremental",
    "PageRequest",
    "Paginator",
    "TemplateError",
    "build",
    "component",
    "load_definition",
    "parse_definition",
]
