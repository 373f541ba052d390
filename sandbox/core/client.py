"""A small client for the ``/_sandbox`` inspection API, for tests, benchmarks and the demo."""

from __future__ import annotations

import ssl
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx

from sandbox.core.calls import Call

__all__ = ["SandboxClient"]


class SandboxClient:
    """Talks to one emulator's ``/_sandbox`` endpoints over real HTTP.

    Args:
        base_url: The emulator's URL, e.g. ``server.url``.
        verify: Passed to httpx: the sandbox CA path for an HTTPS emulator, or ``True``.
        timeout: Seconds per request.

    Example:
        >>> client = SandboxClient("https://127.0.0.1:18443", verify=sandbox.ca_path)  # doctest: +SKIP
        >>> client.add_fault(kind="rate_limit", path="/leads", retry_after=1)  # doctest: +SKIP
        >>> client.calls(path_prefix="/rest/v1/")  # doctest: +SKIP
    """

    def __init__(
        self,
        base_url: str,
        *,
        verify: str | Path | bool | ssl.SSLContext = True,
        timeout: float = 30.0,
    ) -> None:
        if isinstance(verify, Path):
            verify = str(verify)
        if isinstance(verify, str):
            verify = ssl.create_default_context(cafile=verify)
        self._http = httpx.Client(
            base_url=base_url.rstrip("/") + "/_sandbox", verify=verify, timeout=timeout
        )

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._http.request(method, path, **kwargs)
        response.raise_for_status()
        return response.json()

    def calls(self, *, since: int = 0, path_prefix: str | None = None) -> list[Call]:
        """The vendor API calls logged since sequence number ``since``."""
        params: dict[str, str | int] = {"since": since}
        if path_prefix:
            params["path_prefix"] = path_prefix
        return [Call(**c) for c in self._json("GET", "/calls", params=params)["calls"]]

    def clear_calls(self) -> None:
        """Empty the call log."""
        self._json("DELETE", "/calls")

    def add_fault(self, **rule: Any) -> list[dict[str, Any]]:
        """Add one fault rule (keyword arguments are :class:`~sandbox.core.faults.FaultRule` fields)."""
        rules: list[dict[str, Any]] = self._json("POST", "/faults", json=rule)["rules"]
        return rules

    def faults(self) -> list[dict[str, Any]]:
        """The fault rules with their ``fired``/``seen`` counters."""
        rules: list[dict[str, Any]] = self._json("GET", "/faults")["rules"]
        return rules

    def clear_faults(self) -> None:
        """Remove every fault rule."""
        self._json("DELETE", "/faults")

    def records(
        self, obj: str, *, offset: int = 0, limit: int = 100
    ) -> tuple[list[dict[str, Any]], int]:
        """A page of stored records of ``obj`` and the total count."""
        data = self._json("GET", f"/records/{obj}", params={"offset": offset, "limit": limit})
        return data["records"], data["total"]

    def record(self, obj: str, record_id: str) -> dict[str, Any] | None:
        """One stored record, or ``None`` if the emulator has none with that id."""
        response = self._http.get(f"/records/{obj}/{record_id}")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data

    def edit(self, obj: str, record_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Edit a record as a vendor UI user would; returns the updated record."""
        data: dict[str, Any] = self._json("PATCH", f"/records/{obj}/{record_id}", json=changes)
        return data

    def create(self, obj: str, values: dict[str, Any]) -> dict[str, Any]:
        """Create a record as a vendor UI user would; returns it with its id."""
        data: dict[str, Any] = self._json("POST", f"/records/{obj}", json=values)
        return data

    def credentials(self) -> dict[str, str]:
        """The emulator's client credentials."""
        data: dict[str, str] = self._json("GET", "/credentials")
        return data

    def reset(self) -> None:
        """Back to the seeded state; clears calls and faults."""
        self._json("POST", "/reset")

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
