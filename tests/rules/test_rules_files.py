"""Rule files: schema and semantic checks with file:line:col diagnostics (issue #4)."""

from __future__ import annotations

from pathlib import Path

import pytest

from renkei.cli import main
from renkei.mapping import MappingError, validate_paths
from renkei.rules import RuleSet, is_rules_path

from .support import DEMO_RULES

HERE = Path(__file__).parent
BAD = HERE / "bad"
CASES = sorted(p.name for p in BAD.iterdir() if p.is_dir())


@pytest.mark.parametrize("case", CASES)
def test_bad_rule_files_give_exactly_the_expected_diagnostics(
        case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(BAD)
    expected = (BAD / f"{case}.expected").read_text(encoding="utf-8").splitlines()
    got = [d.format() for d in validate_paths([Path(case)])]
    assert got == expected
    assert any(d.is_error for d in validate_paths([Path(case)]))


@pytest.mark.parametrize("case", CASES)
def test_loading_a_bad_rules_directory_raises_with_every_error(case: str) -> None:
    with pytest.raises(MappingError) as caught:
        RuleSet.load(BAD / case)
    assert [d for d in caught.value.diagnostics if d.is_error]


def test_demo_rule_files_validate_clean_as_a_directory_and_one_by_one() -> None:
    assert [d.format() for d in validate_paths([DEMO_RULES])] == []
    for path in sorted(DEMO_RULES.glob("*.yaml")):
        assert [d.format() for d in validate_paths([path])] == [], path.name


def test_a_mappings_directory_validates_its_rules_subdirectory_too(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "alerts.yaml").write_text("kind: alerts\nrules:\n  - name: x\n    on: idle\n"
                                       "    alert: {type: no_progress, title: t}\n",
                                       encoding="utf-8")
    assert [d.format() for d in validate_paths([tmp_path])] == [
        f"{rules / 'alerts.yaml'}:4:9: rules[0].on: an idle rule needs `days`: how long untouched"]


def test_a_directly_named_rules_file_is_checked_as_rules_not_as_a_mapping(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # Before #4, `renkei validate mappings/rules/routing.yaml` reported "missing required key
    # 'connection'" and friends.
    routing = DEMO_RULES / "routing.yaml"
    assert is_rules_path(routing) and not is_rules_path(DEMO_RULES.parent / "marketo-leads.yaml")
    assert main(["validate", str(routing)]) == 0
    bad = tmp_path / "routing.yaml"
    text = routing.read_text(encoding="utf-8")
    bad.write_text(text.replace("team: 東日本営業}", "team: 東日本}"), encoding="utf-8")
    (tmp_path / "owners.yaml").write_text((DEMO_RULES / "owners.yaml").read_text(encoding="utf-8"),
                                          encoding="utf-8")
    assert main(["validate", str(bad)]) == 1
    out = capsys.readouterr().out
    assert f"{bad}:54:20: rules[5].assign.team: unknown team '東日本'" in out
    assert "connection" not in out


def test_templates_cannot_reach_attributes_or_code(tmp_path: Path) -> None:
    from renkei.rules.scope import Scope, resolve
    from renkei.rules.templates import parse_template

    for text in ("{lead.__class__}", "{email.__init__.__globals__}", "{__import__('os')}",
                 "{0}", "{email!r}", "{email:>99}", "{lead[email]}"):
        template, errors = parse_template(text, lambda n: resolve(n, Scope()))
        assert errors, text
        assert all(isinstance(p, str) for p in template.parts)
