"""Brightcove connector: on-demand video views (Analytics API) as activities, read-only.

Public API::

    BrightcoveConnector    the connector (entry point ``brightcove``)
    BrightcoveClassifier   how Brightcove's error arrays map onto the SDK's errors

Config keys: ``account_id``, ``client_id``, ``client_secret`` (secret), and optionally
``oauth_url``, ``cms_url``, ``analytics_url``, ``lookback_days``, ``initial_days``,
``start_date``, ``page_size``, ``timeout_s``, ``retry_attempts``.

Example:
    >>> from connectors.brightcove import BrightcoveConnector
    >>> BrightcoveConnector.name
    'brightcove'
"""

from connectors.brightcove.connector import BrightcoveConnector
from connectors.brightcove.errors import BrightcoveClassifier

__all__ = ["BrightcoveClassifier", "BrightcoveConnector"]
