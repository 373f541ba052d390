"""renkei connectors: one package per vendor, plus the SDK they are built on (``connectors.sdk``)."""
