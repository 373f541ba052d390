"""HubSpot connector: contacts, companies, deals and engagements over the CRM v3 API.

Public API::

    HubSpotConnector     the connector (entry point ``hubspot``)
    HubSpotClassifier    how HubSpot's answers map onto the SDK's errors

Config keys: ``access_token`` (secret), and optionally ``base_url``, ``portal_id``,
``burst_calls``, ``burst_window_s``, ``daily_quota``, ``timeout_s``, ``page_size``,
``retry_attempts``, ``index_lag_s``.

Example:
    >>> from connectors.hubspot import HubSpotConnector
    >>> HubSpotConnector.name
    'hubspot'
"""

from connectors.hubspot.connector import HubSpotConnector
from connectors.hubspot.errors import HubSpotClassifier

__all__ = ["HubSpotClassifier", "HubSpotConnector"]
