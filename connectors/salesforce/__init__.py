"""Salesforce: Lead and Contact (any sObject) through simple-salesforce, typed and guarded.

simple-salesforce builds the URLs and parses the JSON; :mod:`.client` adds what it lacks
(our own OAuth login and one re-login on INVALID_SESSION_ID, timeouts, TLS that trusts an
extra CA, retries of retriable errors only, the shared limiter, the API-call ledger, the
org's ``Sforce-Limit-Info`` usage); :mod:`.errors` maps Salesforce's errors to renkei's;
:mod:`.streams` turns describe results into stream specs; :mod:`.connector` reads
incrementally by ``SystemModstamp`` and writes through sObject Collections.

Register it as a connector type with the entry point
``salesforce = "connectors.salesforce:SalesforceConnector"``.
"""

from connectors.salesforce.client import ApiUsage
from connectors.salesforce.connector import SalesforceConnector

__all__ = ["ApiUsage", "SalesforceConnector"]
