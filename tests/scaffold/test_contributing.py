"""CONTRIBUTING.md works as written: its ``sh`` blocks run, in order, in a fresh venv (#7)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from tests.scaffold.venv import ThrowawayVenv

DOC = Path(__file__).resolve().parents[2] / "CONTRIBUTING.md"
STEPS = ["Scaffold", "Streams", "Sandbox", "Mapping", "Conformance", "Entry point", "Publish"]


def sh_commands(text: str) -> list[str]:
    """Every line of every block fenced exactly as ``sh``, in document order."""
    blocks = re.findall(r"^```sh\n(.*?)^```", text, re.DOTALL | re.MULTILINE)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


def test_steps_come_in_the_order_a_partner_works() -> None:
    headings = re.findall(r"^## \d+\. (.+)$", DOC.read_text(encoding="utf-8"), re.MULTILINE)
    assert [h.split(" to ")[0] for h in headings] == STEPS


def test_the_documented_commands_scaffold_test_and_list_a_connector(
        tmp_path: Path, throwaway_venv: ThrowawayVenv) -> None:
    commands = sh_commands(DOC.read_text(encoding="utf-8"))
    kinds = [shlex.split(c)[0] for c in commands]
    assert kinds[0] == "renkei" and {"cd", "pip", "pytest"} <= set(kinds), commands
    cwd = tmp_path
    outputs: list[str] = []
    for command in commands:
        argv = shlex.split(command)
        if argv[0] == "cd":
            cwd = cwd / argv[1]
        elif argv[0] == "renkei":
            outputs.append(throwaway_venv.run(["-m", "renkei.cli", *argv[1:]], cwd=cwd).stdout)
        elif argv[:3] == ["pip", "install", "-e"]:
            throwaway_venv.pip(argv[3], cwd=cwd, editable=True)
        elif argv[0] == "pytest":
            run = throwaway_venv.run(["-m", "pytest", "-q", "-p", "no:cacheprovider",
                                      *argv[1:]], cwd=cwd)
            assert re.search(r"\d+ passed", run.stdout) and "failed" not in run.stdout
        else:
            raise AssertionError(f"CONTRIBUTING.md: the test cannot run {command!r}; fence "
                                 "commands it should not run as `bash`")
    assert cwd.name == "renkei-acme"
    assert re.search(r"^acme\s+0\.1\.0\s+renkei_acme:AcmeConnector\s+streams: contacts$",
                     outputs[-1], re.MULTILINE), outputs[-1]
