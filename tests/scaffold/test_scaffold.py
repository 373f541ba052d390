"""``renkei connector new``: name checks, and a generated package that installs, is listed by
``renkei connectors`` and passes its own conformance test (issue #7)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from renkei.cli import main
from renkei.scaffold import ScaffoldError, new_connector, validate_name
from tests.scaffold.venv import ThrowawayVenv


@pytest.mark.parametrize(("name", "why"), [
    ("9lives", "not valid"), ("Acme", "not valid"), ("acme-crm", "not valid"),
    ("", "not valid"), ("class", "Python keyword"), ("memory", "is taken"),
])
def test_bad_names_are_refused_with_the_reason(name: str, why: str) -> None:
    with pytest.raises(ScaffoldError, match=why):
        validate_name(name)


def test_cli_refuses_a_bad_name_and_an_existing_target(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["connector", "new", "Acme-CRM", "--dir", str(tmp_path)]) == 1
    assert "connector name 'Acme-CRM' is not valid" in capsys.readouterr().err
    assert main(["connector", "new", "acme_crm", "--dir", str(tmp_path)]) == 0
    assert (tmp_path / "renkei-acme-crm" / "renkei_acme_crm" / "connector.py").is_file()
    assert main(["connector", "new", "acme_crm", "--dir", str(tmp_path)]) == 1
    assert "already exists" in capsys.readouterr().err
    assert not list(tmp_path.glob("*/*/*.tmpl"))


def test_generated_names_are_substituted_everywhere(tmp_path: Path) -> None:
    root = new_connector("shop_api", tmp_path, taken=set())
    text = "".join(p.read_text(encoding="utf-8") for p in root.rglob("*") if p.is_file())
    assert "${" not in text.replace("${SHOP_API_API_TOKEN}", "")
    assert 'shop_api = "renkei_shop_api:ShopApiConnector"' in text
    assert "class ShopApiConnector(Connector)" in text


def test_generated_package_installs_lists_and_passes_conformance(
        tmp_path: Path, throwaway_venv: ThrowawayVenv) -> None:
    assert main(["connector", "new", "acme_widgets", "--dir", str(tmp_path)]) == 0
    root = tmp_path / "renkei-acme-widgets"
    throwaway_venv.pip(str(root))
    # A broken plug-in next to it: reported with its error, the others still listed.
    site = throwaway_venv.run(["-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
    dist = Path(site.stdout.strip()) / "renkei_broken_plugin-0.0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: renkei-broken-plugin\n"
                                   "Version: 0.0.1\n", encoding="utf-8")
    (dist / "entry_points.txt").write_text("[renkei.connectors]\nbroken = renkei_gone:Nope\n",
                                           encoding="utf-8")
    listing = throwaway_venv.run(["-m", "renkei.cli", "connectors"]).stdout
    assert re.search(r"^acme_widgets\s+0\.1\.0\s+renkei_acme_widgets:AcmeWidgetsConnector"
                     r"\s+streams: contacts$", listing, re.MULTILINE), listing
    assert re.search(r"^broken\s+BROKEN\s+renkei_gone:Nope: ModuleNotFoundError", listing,
                     re.MULTILINE), listing
    assert re.search(r"^memory\s+0\.1\.0", listing, re.MULTILINE), listing
    run = throwaway_venv.run(["-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs"], cwd=root)
    summary = run.stdout.strip().splitlines()[-1]
    passed = int(re.search(r"(\d+) passed", summary).group(1))  # type: ignore[union-attr]
    assert passed >= 16 and "failed" not in summary and "skipped" not in summary, run.stdout
