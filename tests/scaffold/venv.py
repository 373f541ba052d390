"""A throw-away virtualenv that sees the development install of renkei, for partner packages.

A venv made with ``--system-site-packages`` from ``.venv``'s python sees the *base*
interpreter's site-packages, not ``.venv``'s; a ``.pth`` file adds ``.venv``'s (with the
editable renkei in it), so packages installed into the throw-away venv with ``--no-deps``
run against this checkout.
"""

from __future__ import annotations

import os
import site
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ThrowawayVenv"]


@dataclass(frozen=True)
class ThrowawayVenv:
    """A venv at ``root``; :meth:`run` runs a command with its python."""

    root: Path

    @property
    def python(self) -> str:
        return str(self.root / "bin" / "python")

    @classmethod
    def create(cls, root: Path) -> ThrowawayVenv:
        subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip",
                        str(root)], check=True, capture_output=True)
        venv = cls(root)
        purelib = subprocess.run([venv.python, "-c",
                                  "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                 check=True, capture_output=True, text=True).stdout.strip()
        ours = [p for p in site.getsitepackages() if p.startswith(sys.prefix)]
        (Path(purelib) / "_renkei_dev.pth").write_text(
            "".join(f"import site; site.addsitedir({p!r})\n" for p in ours), encoding="utf-8")
        # setuptools before 70.1 builds wheels only with the `wheel` package installed.
        if venv.run(["-c", "import wheel"], check=False).returncode != 0:
            venv.pip("wheel", no_deps=False)
        return venv

    def env(self) -> dict[str, str]:
        # No PYTEST_* of the outer run (an xdist worker's variables), and no plug-ins
        # auto-loaded from the base interpreter's site-packages, which vary by machine.
        env = {k: v for k, v in os.environ.items()
               if k not in ("PYTHONPATH", "VIRTUAL_ENV") and not k.startswith("PYTEST_")}
        env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
        env.update(VIRTUAL_ENV=str(self.root), DO_NOT_TRACK="1",
                   PREFECT_SERVER_ANALYTICS_ENABLED="false",
                   PATH=f"{self.root / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}")
        return env

    def run(self, args: list[str], *, cwd: Path | None = None, check: bool = True,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """``python ARGS`` in the venv; on failure the output is in the assertion message."""
        done = subprocess.run([self.python, *args], cwd=cwd, env=self.env(), text=True,
                              capture_output=True, timeout=timeout, check=False)
        if check and done.returncode != 0:
            raise AssertionError(f"python {' '.join(args)} exited {done.returncode}:\n"
                                 f"{done.stdout}\n{done.stderr}")
        return done

    def pip(self, *targets: str, cwd: Path | None = None, editable: bool = False,
            no_deps: bool = True) -> None:
        """Install into the venv with this interpreter's pip (the venv has none)."""
        args = [sys.executable, "-m", "pip", "--python", self.python, "install", "-q",
                "--disable-pip-version-check"]
        if no_deps:
            args += ["--no-deps", "--no-build-isolation"]
        if editable:
            args.append("-e")
        done = subprocess.run([*args, *targets], cwd=cwd, env=self.env(), text=True,
                              capture_output=True, timeout=180, check=False)
        if done.returncode != 0:
            raise AssertionError(f"pip install {' '.join(targets)} failed:\n{done.stdout}\n"
                                 f"{done.stderr}")
