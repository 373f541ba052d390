"""The shared core of the sandbox emulators.

Public names:

* :class:`EmulatorApp`: base class of a vendor emulator (routes, faults, inspection API).
* :class:`EmulatorServer`: runs an emulator with uvicorn on a loopback port.
* :class:`TLSFiles`, :func:`make_tls`: a throw-away CA and server certificate.
* :class:`Call`, :class:`CallLog`: the log of API calls received.
* :class:`FaultRule`, :class:`FaultPlan`, :data:`FaultKind`: fault injection.
* :class:`SandboxClient`: a client of the ``/_sandbox`` inspection API.
"""

from sandbox.core.app import SANDBOX_PREFIX, EmulatorApp, json_response
from sandbox.core.calls import Call, CallLog, strip_secrets
from sandbox.core.client import SandboxClient
from sandbox.core.faults import FAULT_KINDS, FaultConfigError, FaultKind, FaultPlan, FaultRule
from sandbox.core.middleware import generic_fault_response, retry_after_header
from sandbox.core.server import EmulatorServer, ServerStartError
from sandbox.core.tls import TLSFiles, make_tls

__all__ = [
    "FAULT_KINDS",
    "SANDBOX_PREFIX",
    "Call",
    "CallLog",
    "EmulatorApp",
    "EmulatorServer",
    "FaultConfigError",
    "FaultKind",
    "FaultPlan",
    "FaultRule",
    "SandboxClient",
    "ServerStartError",
    "TLSFiles",
    "generic_fault_response",
    "json_response",
    "make_tls",
    "retry_after_header",
    "strip_secrets",
]
