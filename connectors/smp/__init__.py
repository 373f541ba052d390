"""Shanon Marketing Platform (SMP): a declarative connector (``smp.yaml``).

Public API::

    SmpConnector       the connector (entry point ``smp``)
    SmpSignatureAuth   the signed-request auth ``smp.yaml`` names as ``type: custom``

Example:
    >>> SmpConnector.name, [s["name"] for s in SmpConnector.definition.streams()]
    ('smp', ['visitors'])
"""

from pathlib import Path

from connectors.declarative import DeclarativeConnector
from connectors.smp.auth import SmpSignatureAuth

__all__ = ["SmpConnector", "SmpSignatureAuth"]


class SmpConnector(DeclarativeConnector):
    """SMP visitors (リード) over the REST API, as ``smp.yaml`` describes them."""

    definition_file = Path(__file__).with_name("smp.yaml")
