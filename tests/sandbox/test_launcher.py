"""The sandbox launcher: registry, ports, one CA, faults from options, describe()."""

from __future__ import annotations

import ssl
from typing import Any

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox import launcher
from sandbox.core import EmulatorApp, FaultConfigError, SandboxClient
from sandbox.launcher import Sandbox, SandboxOptions, register_emulator
from sandbox.seed import people


class SeededToy(EmulatorApp):
    """Serves the first seeded person, like a vendor's lead endpoint."""

    def __init__(self, name: str, options: SandboxOptions) -> None:
        super().__init__()
        self.name = name
        self.options = options

    def routes(self) -> list[BaseRoute]:
        return [Route("/api/first", self._first)]

    def _first(self, request: Request) -> Response:
        person = next(people(1, seed=self.options.seed))
        return JSONResponse({"email": person.email, "size": self.options.size})

    def credentials(self) -> dict[str, Any]:
        return {"client_id": f"{self.name}-id", "client_secret": f"{self.name}-secret"}


@pytest.fixture()
def registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(launcher, "EMULATORS", {})
    monkeypatch.setattr(launcher, "_SPECS", {})
    monkeypatch.setattr(launcher, "VENDOR_PACKAGES", ("sandbox.no_such_vendor",))
    register_emulator("plain", lambda o: SeededToy("plain", o), default_port=0)
    register_emulator("secure", lambda o: SeededToy("secure", o), tls=True, default_port=0)
    register_emulator("other", lambda o: SeededToy("other", o), tls=True, default_port=0)


@pytest.mark.usefixtures("registry")
def test_sandbox_starts_every_emulator_with_one_ca(tmp_path: Any) -> None:
    options = SandboxOptions(size=100, seed=7, workdir=tmp_path)
    with Sandbox(options) as sandbox:
        assert sorted(sandbox.urls) == ["other", "plain", "secure"]
        assert sandbox.urls["plain"].startswith("http://127.0.0.1:")
        assert sandbox.urls["secure"].startswith("https://127.0.0.1:")
        assert sandbox.ca_path is not None and sandbox.ca_path.parent == tmp_path / "tls"
        context = ssl.create_default_context(cafile=str(sandbox.ca_path))
        for name in ("secure", "other"):
            body = httpx.get(f"{sandbox.urls[name]}/api/first", verify=context).json()
            assert body == {"email": next(people(1, seed=7)).email, "size": 100}
        assert sandbox.credentials["secure"] == {
            "client_id": "secure-id",
            "client_secret": "secure-secret",
        }
        text = sandbox.describe()
        for name, url in sandbox.urls.items():
            assert url in text and f"{name}-secret" in text
        assert str(sandbox.ca_path) in text
        assert "sandbox.no_such_vendor" in text and sandbox.warnings
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{sandbox.urls.get('plain', 'http://127.0.0.1:1')}/api/first", timeout=1)


@pytest.mark.usefixtures("registry")
def test_sandbox_starts_a_subset_with_faults_from_options() -> None:
    options = SandboxOptions(
        size=100,
        faults=[
            {"kind": "server_error", "emulator": "plain", "times": 1},
            {"kind": "rate_limit", "retry_after": 3},
        ],
    )
    sandbox = Sandbox(options).start(["plain", "secure"])
    try:
        assert sorted(sandbox.apps) == ["plain", "secure"]
        plain = sandbox.urls["plain"]
        assert httpx.get(f"{plain}/api/first").status_code == 503
        limited = httpx.get(f"{plain}/api/first")
        assert (limited.status_code, limited.headers["retry-after"]) == (429, "3")
        assert httpx.get(f"{plain}/api/first").status_code == 200
        with SandboxClient(sandbox.urls["secure"], verify=sandbox.ca_path or True) as client:
            assert [rule["kind"] for rule in client.faults()] == ["rate_limit"]
        ca_path = sandbox.ca_path
        assert ca_path is not None and ca_path.exists()
    finally:
        sandbox.stop()
        sandbox.stop()
    assert not ca_path.exists()  # the temporary workdir the sandbox made is gone


@pytest.mark.usefixtures("registry")
def test_sandbox_rejects_bad_requests() -> None:
    with pytest.raises(KeyError, match="unknown emulator.*nope"):
        Sandbox(SandboxOptions(size=100)).start(["nope"])
    with pytest.raises(FaultConfigError, match="emulator 'ghost'"):
        Sandbox(SandboxOptions(size=100, faults=[{"kind": "slow", "emulator": "ghost"}])).start(
            ["plain"]
        )
    with pytest.raises(FaultConfigError, match="unknown fault kind"):
        Sandbox(SandboxOptions(size=100, faults=[{"kind": "explode"}])).start(["plain"])
    for size in (99, 1_000_001):
        with pytest.raises(ValueError, match="between 100 and 1,000,000"):
            SandboxOptions(size=size)


@pytest.mark.usefixtures("registry")
def test_port_clash_stops_what_was_started() -> None:
    first = Sandbox(SandboxOptions(size=100)).start(["plain"])
    try:
        clash = Sandbox(
            SandboxOptions(size=100), ports={"secure": 0, "plain": first.servers["plain"].port}
        )
        with pytest.raises(RuntimeError, match="plain"):
            clash.start(["secure", "plain"])
        assert clash.servers == {} and clash.apps == {}
    finally:
        first.stop()


def test_broken_vendor_package_is_a_warning_line() -> None:
    lines = launcher.load_emulators(["sandbox.no_such_vendor"])
    assert len(lines) == 1 and lines[0].startswith(
        "warning: emulator package sandbox.no_such_vendor skipped"
    )
