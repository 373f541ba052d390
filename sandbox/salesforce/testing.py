"""Helpers to point real Salesforce clients at the emulator, for tests and demos.

simple-salesforce logs in at ``https://{domain}.salesforce.com`` whatever you do; a
:class:`RedirectAdapter` mounted on the ``requests.Session`` you hand it sends those calls
to the emulator instead, so the library runs unchanged.

Example:
    >>> with running_emulator(SalesforceSettings(size=100), tmp) as (emu, server, tls):  # doctest: +SKIP
    ...     session = redirecting_session(server.url, tls.ca_path)
    ...     sf = Salesforce(username=..., password=..., security_token=..., session=session)
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from simple_salesforce.api import Salesforce

from sandbox.core.server import EmulatorServer
from sandbox.core.tls import TLSFiles, make_tls
from sandbox.salesforce.app import SalesforceEmulator, SalesforceSettings

__all__ = ["RedirectAdapter", "logged_in", "redirecting_session", "running_emulator"]


class RedirectAdapter(HTTPAdapter):
    """Rewrites requests for ``*.salesforce.com`` to the emulator's scheme, host and port."""

    def __init__(self, target_url: str, **kwargs: Any):
        super().__init__(**kwargs)
        self._target = urlsplit(target_url)
        self.redirected = 0

    def send(self, request: requests.PreparedRequest, *args: Any,
             **kwargs: Any) -> requests.Response:
        parts = urlsplit(str(request.url))
        if parts.hostname and (parts.hostname == "salesforce.com"
                               or parts.hostname.endswith(".salesforce.com")):
            request.url = urlunsplit((self._target.scheme, self._target.netloc, parts.path,
                                      parts.query, parts.fragment))
            self.redirected += 1
        return super().send(request, *args, **kwargs)


def redirecting_session(target_url: str, ca_path: str | Path) -> requests.Session:
    """A session that trusts the sandbox CA and sends Salesforce login hosts to the emulator."""
    session = requests.Session()
    # requests lets REQUESTS_CA_BUNDLE override session.verify (psf/requests#3829); the
    # sandbox CA must win, and a loopback call needs no proxy from the environment either.
    session.trust_env = False
    session.verify = str(ca_path)
    session.mount("https://", RedirectAdapter(target_url))
    return session


@contextmanager
def running_emulator(settings: SalesforceSettings, workdir: Path, *,
                     tls: TLSFiles | None = None
                     ) -> Iterator[tuple[SalesforceEmulator, EmulatorServer, TLSFiles]]:
    """Serve a fresh emulator over HTTPS on a free loopback port for the ``with`` block."""
    files = tls or make_tls(workdir / "tls")
    emulator = SalesforceEmulator(settings)
    with EmulatorServer(emulator.asgi(), name="salesforce", port=0, tls=files) as server:
        yield emulator, server, files


@contextmanager
def logged_in(settings: SalesforceSettings, workdir: Path
              ) -> Iterator[tuple[SalesforceEmulator, Salesforce]]:
    """A fresh emulator and simple-salesforce logged in to it (username, password and
    security token), unchanged but for the redirecting session, for the ``with`` block."""
    with running_emulator(settings, workdir) as (emulator, server, tls):
        session = redirecting_session(server.url, tls.ca_path)
        creds = emulator.settings.credentials
        sf = Salesforce(username=creds.username, password=creds.password,
                        security_token=creds.security_token, session=session)
        try:
            yield emulator, sf
        finally:
            # Responses kept alive by reference cycles hold their sockets: close them
            # before the server stops, or asyncio reports unclosed transports.
            gc.collect()
            session.close()
            time.sleep(0.05)
