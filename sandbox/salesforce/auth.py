"""Logins and sessions: the OAuth 2.0 token endpoint, SOAP ``login()``, bearer checks.

Vendor behaviour relied on:

* ``POST /services/oauth2/token`` takes a form body. ``client_credentials`` authenticates
  the connected app by HTTP Basic or by ``client_id``/``client_secret`` in the form;
  ``password`` adds ``username`` and ``password`` (password + security token)
  [C: RFC 6749; simple-salesforce ``login.py`` sends both shapes].
* The answer carries ``access_token``, ``instance_url``, ``id``, ``token_type``,
  ``issued_at``, ``signature`` and no ``expires_in``: an expired session shows up only as
  a 401 [C: simple-salesforce test fixture; S: jsforce types]. client_credentials adds
  ``api_instance_url`` [S].
* Errors are HTTP 400 ``{"error": ..., "error_description": ...}``: ``invalid_client_id``
  "client identifier invalid", ``invalid_client`` "invalid client credentials",
  ``invalid_grant`` "authentication failure", ``unsupported_grant_type``
  "grant type not supported" [S: messages seen in issue threads].
* SOAP ``login`` answers ``sessionId`` and ``serverUrl``; simple-salesforce takes the
  instance from serverUrl's host. A bad login is HTTP 500 with a SOAP fault whose detail
  holds ``sf:exceptionCode`` INVALID_LOGIN and ``sf:exceptionMessage`` "Invalid username,
  password, security token; or user locked out." [C: simple-salesforce ``soap_login``;
  S: the message].
* A session lives for the org's timeout (2 hours by default, ``sessionSecondsValid`` 7200)
  [C: simple-salesforce SOAP fixture]; after that every call answers 401
  ``[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from xml.etree import ElementTree

__all__ = ["ORG_ID", "USER_ID", "Credentials", "LoginError", "SessionStore"]

ORG_ID = "00D5j000000Org1EAC"
USER_ID = "0055j000000ApiUAAS"
_SOAP_NS = {"env": "http://schemas.xmlsoap.org/soap/envelope/",
            "urn": "urn:partner.soap.sforce.com"}


@dataclass(frozen=True)
class Credentials:
    """The connected app and the integration user the emulator accepts."""

    client_id: str = "3MVG9renkeiSandboxConsumerKey"
    client_secret: str = "sandbox-consumer-secret"
    username: str = "integration@renkei.example.co.jp"
    password: str = "sandbox-password"
    security_token: str = "SandboxToken123"

    def as_dict(self) -> dict[str, str]:
        return {"client_id": self.client_id, "client_secret": self.client_secret,
                "username": self.username, "password": self.password,
                "security_token": self.security_token}


class LoginError(Exception):
    """A refused login: ``error`` / ``description`` in OAuth terms."""

    def __init__(self, error: str, description: str):
        super().__init__(description)
        self.error = error
        self.description = description


@dataclass
class _Session:
    issued: float
    user: str


@dataclass
class SessionStore:
    """Issued sessions and their lifetime.

    Args:
        creds: What a login must present.
        lifetime_s: Seconds a session stays valid after it was issued.
        clock: Monotonic seconds (injectable).
    """

    creds: Credentials = field(default_factory=Credentials)
    lifetime_s: float = 7200.0
    clock: Callable[[], float] = time.monotonic
    _sessions: dict[str, _Session] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    logins: int = 0

    def issue(self, user: str) -> str:
        token = f"{ORG_ID[:15]}!AR{secrets.token_urlsafe(40)}"
        with self._lock:
            self._sessions[token] = _Session(self.clock(), user)
            self.logins += 1
        return token

    def valid(self, token: str | None) -> bool:
        """True when ``token`` was issued here and has not expired."""
        if not token:
            return False
        with self._lock:
            session = self._sessions.get(token)
            if session is None:
                return False
            if self.clock() - session.issued > self.lifetime_s:
                del self._sessions[token]
                return False
            return True

    def expire_all(self) -> int:
        """End every session now (as an admin's "expire all passwords" would); returns count."""
        with self._lock:
            count = len(self._sessions)
            self._sessions.clear()
        return count

    # -- OAuth ---------------------------------------------------------------------------
    def oauth(self, form: Mapping[str, str], authorization: str | None,
              instance_url: str) -> dict[str, Any]:
        """The token endpoint's success body.

        Raises:
            LoginError: the grant or the credentials are refused.
        """
        grant = form.get("grant_type", "")
        client_id = form.get("client_id")
        client_secret = form.get("client_secret")
        if authorization and authorization.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(authorization[6:].strip()).decode()
                client_id, _, client_secret = decoded.partition(":")
            except (ValueError, UnicodeDecodeError):
                raise LoginError("invalid_client", "invalid client credentials") from None
        if grant not in ("client_credentials", "password"):
            raise LoginError("unsupported_grant_type", "grant type not supported")
        if client_id != self.creds.client_id:
            raise LoginError("invalid_client_id", "client identifier invalid")
        if not hmac.compare_digest((client_secret or "").encode(),
                                   self.creds.client_secret.encode()):
            raise LoginError("invalid_client", "invalid client credentials")
        if grant == "password" and not self.password_ok(form.get("username"),
                                                        form.get("password")):
            raise LoginError("invalid_grant", "authentication failure")
        token = self.issue(form.get("username") or self.creds.username)
        issued = str(int(time.time() * 1000))
        signature = base64.b64encode(hmac.new(
            self.creds.client_secret.encode(), f"{instance_url}{issued}".encode(),
            hashlib.sha256).digest()).decode()
        body = {"access_token": token, "instance_url": instance_url,
                "id": f"{instance_url}/id/{ORG_ID}/{USER_ID}", "token_type": "Bearer",
                "issued_at": issued, "signature": signature, "scope": "api"}
        if grant == "client_credentials":
            body["api_instance_url"] = instance_url
        return body

    def password_ok(self, username: str | None, password: str | None) -> bool:
        """Password alone (trusted IP range) or password + security token."""
        if username != self.creds.username or password is None:
            return False
        return password in (self.creds.password, self.creds.password + self.creds.security_token)

    # -- SOAP ----------------------------------------------------------------------------
    def soap_login(self, body: bytes, instance_url: str, version: str) -> tuple[int, str]:
        """``(status, xml)`` of a SOAP ``login()`` call."""
        try:
            root = ElementTree.fromstring(body)
        except ElementTree.ParseError:
            return 500, _soap_fault("INVALID_LOGIN", "Invalid username, password, security "
                                    "token; or user locked out.")
        username = password = None
        for el in root.iter():
            local = el.tag.rsplit("}", 1)[-1]
            if local == "username":
                username = el.text
            elif local == "password":
                password = el.text
        if not self.password_ok(username, password):
            return 500, _soap_fault("INVALID_LOGIN", "Invalid username, password, security "
                                    "token; or user locked out.")
        token = self.issue(username or "")
        server = f"{instance_url}/services/Soap/u/{version}/{ORG_ID[:15]}"
        return 200, (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns="urn:partner.soap.sforce.com" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            "<soapenv:Body><loginResponse><result>"
            f"<metadataServerUrl>{instance_url}/services/Soap/m/{version}/{ORG_ID[:15]}"
            "</metadataServerUrl><passwordExpired>false</passwordExpired>"
            f"<sandbox>true</sandbox><serverUrl>{server}</serverUrl>"
            f"<sessionId>{token}</sessionId><userId>{USER_ID}</userId>"
            f"<userInfo><organizationId>{ORG_ID}</organizationId>"
            "<organizationName>Renkei Sandbox</organizationName>"
            f"<sessionSecondsValid>{int(self.lifetime_s)}</sessionSecondsValid>"
            f"<userEmail>{self.creds.username}</userEmail><userId>{USER_ID}</userId>"
            f"<userName>{self.creds.username}</userName>"
            "<userTimeZone>Asia/Tokyo</userTimeZone><userLanguage>ja</userLanguage>"
            "</userInfo></result></loginResponse></soapenv:Body></soapenv:Envelope>")


def _soap_fault(code: str, message: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:sf="urn:fault.partner.soap.sforce.com" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<soapenv:Body><soapenv:Fault><faultcode>sf:{code}</faultcode>"
        f"<faultstring>{code}: {message}</faultstring><detail>"
        f'<sf:LoginFault xsi:type="sf:LoginFault"><sf:exceptionCode>{code}</sf:exceptionCode>'
        f"<sf:exceptionMessage>{message}</sf:exceptionMessage></sf:LoginFault>"
        "</detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>")
