"""Throw-away TLS material for the sandbox: one local CA, one leaf certificate.

Vendor APIs such as Salesforce are HTTPS-only, and some client libraries refuse plain
HTTP, so the sandbox can serve an emulator over TLS. The CA is generated fresh with
``trustme``; clients trust it through ``verify=ca_path`` (httpx, requests) or the
``SSL_CERT_FILE`` / ``REQUESTS_CA_BUNDLE`` environment variables.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import trustme

__all__ = ["TLSFiles", "make_tls"]


@dataclass(frozen=True)
class TLSFiles:
    """PEM files of a sandbox CA and of the server certificate it signed.

    Attributes:
        ca_path: The CA certificate, for clients to trust.
        cert_path: The server certificate chain (leaf first), for the server.
        key_path: The server private key, for the server.
    """

    ca_path: Path
    cert_path: Path
    key_path: Path


def make_tls(directory: Path) -> TLSFiles:
    """Create a CA and a leaf certificate for ``127.0.0.1`` and ``localhost``.

    Args:
        directory: Where to write ``sandbox-ca.pem``, ``sandbox-cert.pem`` and
            ``sandbox-key.pem``; created if missing. Existing files are overwritten.

    Returns:
        The paths of the three PEM files.

    Example:
        >>> import tempfile
        >>> files = make_tls(Path(tempfile.mkdtemp()))
        >>> files.ca_path.read_text().startswith("-----BEGIN CERTIFICATE-----")
        True
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name="renkei sandbox")
    leaf = ca.issue_cert("127.0.0.1", "localhost", "::1")
    files = TLSFiles(
        ca_path=directory / "sandbox-ca.pem",
        cert_path=directory / "sandbox-cert.pem",
        key_path=directory / "sandbox-key.pem",
    )
    ca.cert_pem.write_to_path(str(files.ca_path))
    with files.cert_path.open("wb") as fh:
        for blob in leaf.cert_chain_pems:
            fh.write(blob.bytes())
    leaf.private_key_pem.write_to_path(str(files.key_path))
    files.key_path.chmod(0o600)
    return files
