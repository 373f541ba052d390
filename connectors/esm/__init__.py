"""Softbrain eセールスマネージャー (esm API): a declarative connector (``esm.yaml``).

Public API::

    EsmConnector   the connector (entry point ``esm``)

Example:
    >>> [s["name"] for s in EsmConnector.definition.streams()]
    ['businesscards', 'customers', 'activities']
"""

from pathlib import Path

from connectors.declarative import DeclarativeConnector

__all__ = ["EsmConnector"]


class EsmConnector(DeclarativeConnector):
    """esm business cards, customers and activities, as ``esm.yaml`` describes them."""

    definition_file = Path(__file__).with_name("esm.yaml")
