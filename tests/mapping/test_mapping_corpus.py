"""The bad-file corpus gives exactly the expected diagnostics; good files validate clean."""

from __future__ import annotations

from pathlib import Path

import pytest

from renkei.mapping import MappingError, load_mapping, load_mappings, validate_paths

from .streams import streams

HERE = Path(__file__).parent
BAD = HERE / "bad"
GOOD = HERE / "good"
BAD_CASES = sorted(p.name for p in BAD.iterdir() if p.suffix == ".yaml" or p.is_dir())


def test_corpus_is_large_enough() -> None:
    assert len(BAD_CASES) >= 25


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_file_gives_exactly_the_expected_diagnostics(
    case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(BAD)
    expected = (BAD / (Path(case).stem + ".expected")).read_text(encoding="utf-8").splitlines()
    got = [d.format() for d in validate_paths([Path(case)], streams=streams)]
    assert got == expected
    assert any(d.is_error for d in validate_paths([Path(case)], streams=streams))


@pytest.mark.parametrize(
    "case", [c for c in BAD_CASES if c.endswith(".yaml") and c != "failing_example.yaml"])
def test_load_mapping_raises_with_every_error(case: str) -> None:
    with pytest.raises(MappingError) as caught:
        load_mapping(BAD / case, streams=streams)
    errors = [d for d in caught.value.diagnostics if d.is_error]
    assert errors
    assert str(errors[0].line) in str(caught.value)


@pytest.mark.parametrize("case", sorted(p.name for p in GOOD.glob("*.yaml")))
def test_good_file_validates_clean(case: str) -> None:
    assert [d.format() for d in validate_paths([GOOD / case], streams=streams)] == []


def test_good_directory_loads_every_mapping() -> None:
    mappings = load_mappings(GOOD, streams=streams)
    assert sorted(m.name for m in mappings) == sorted(p.stem for p in GOOD.glob("*.yaml"))


def test_duplicate_names_across_files_raise(tmp_path: Path) -> None:
    text = (GOOD / "marketo-leads.yaml").read_text(encoding="utf-8")
    (tmp_path / "a.yaml").write_text(text, encoding="utf-8")
    (tmp_path / "b.yml").write_text(text.replace("stream: leads", "stream: people"),
                                    encoding="utf-8")
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "r.yaml").write_text("not: a mapping", encoding="utf-8")
    with pytest.raises(MappingError) as caught:
        load_mappings(tmp_path)
    assert [d.message for d in caught.value.diagnostics if d.is_error] == [
        f"duplicate mapping name 'marketo-leads' (also used by {tmp_path / 'a.yaml'})"]


def test_unreadable_path_is_a_diagnostic(tmp_path: Path) -> None:
    (diagnostic,) = validate_paths([tmp_path / "missing.yaml"])
    assert diagnostic.message.startswith("cannot read the file")
