"""The YAML loader: the small YAML dialect, positions, and problems reported as diagnostics."""

from __future__ import annotations

from renkei.mapping.loader import dotted, parse_yaml, value_key


def test_yaml_dialect_keeps_strings_that_yaml_1_1_would_convert() -> None:
    doc, problems = parse_yaml("x.yaml", """\
answer: yes
off: no
zip: 0123
time: 10:30
date: 2024-01-02
stamp: 2024-01-02T10:00:00+09:00
octal: 0o17
real_int: 12
neg: -3
real_float: 1.5
exp: 1e3
yes_bool: true
nothing: ~
empty:
""")
    assert problems == []
    assert doc is not None
    assert doc.data == {
        "answer": "yes", "off": "no", "zip": "0123", "time": "10:30", "date": "2024-01-02",
        "stamp": "2024-01-02T10:00:00+09:00", "octal": "0o17", "real_int": 12, "neg": -3,
        "real_float": 1.5, "exp": 1000.0, "yes_bool": True, "nothing": None, "empty": None,
    }


def test_positions_of_keys_and_values() -> None:
    doc, _ = parse_yaml("x.yaml", "a:\n  b: [1, {c: d}]\n  e: f\n")
    assert doc is not None
    assert doc.key_pos[("a", "b")] == (2, 3)
    assert doc.value_pos[("a", "b")] == (2, 6)
    assert doc.value_pos[("a", "b", 1, "c")] == (2, 14)
    assert doc.position(("a", "b", 1, "zz")) == (2, 10)
    assert doc.position(("a", "missing"), key=True) == (1, 1)
    assert doc.position(("a", "b", "missing"), key=True) == (2, 3)
    assert doc.position(()) == (1, 1)


def test_duplicate_keys_are_reported_and_first_kept() -> None:
    doc, problems = parse_yaml("x.yaml", "a: 1\nb:\n  c: 1\n  c: 2\na: 3\n")
    assert doc is not None and doc.data == {"a": 1, "b": {"c": 1}}
    assert [d.format() for d in problems] == [
        "x.yaml:4:3: b.c: duplicate key 'c' (first defined on line 3)",
        "x.yaml:5:1: a: duplicate key 'a' (first defined on line 1)",
    ]


def test_non_string_keys_are_kept_typed() -> None:
    doc, _ = parse_yaml("x.yaml", "values: {1: a, true: b, 2.0: c, x: d}\n")
    assert doc is not None
    assert doc.data == {"values": {"1": "a", "true": "b", "2": "c", "x": "d"}}
    assert doc.typed_keys[("values",)] == {"1": 1, "true": True, "2": 2.0}


def test_complex_keys_unsupported_tags_and_aliases() -> None:
    doc, problems = parse_yaml("x.yaml", "? [a, b]\n: 1\nc: !!binary aGk=\nd: &x {e: 1}\nf: *x\n")
    assert doc is not None
    assert doc.data == {"c": "aGk=", "d": {"e": 1}, "f": {"e": 1}}
    assert [d.message for d in problems] == [
        "a key must be a plain scalar, not a list or mapping"]
    doc, problems = parse_yaml("x.yaml", "a: !!python/object:os.system x\n")
    assert doc is not None and doc.data == {"a": None}
    assert problems[0].message.startswith("unsupported YAML value")


def test_billion_laughs_is_refused() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [*a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}]"
              for i in range(1, 9)]
    doc, problems = parse_yaml("x.yaml", "\n".join(lines) + "\n")
    assert doc is None
    assert problems[0].message == "the document is too large (more than 100000 nodes)"


def test_deep_nesting_is_refused() -> None:
    _, problems = parse_yaml("x.yaml", "a: " + "[" * 5000 + "]" * 5000 + "\n")
    assert problems and "deep" in problems[0].message


def test_bom_control_characters_and_bad_bytes() -> None:
    doc, problems = parse_yaml("x.yaml", b"\xef\xbb\xbfa: 1\n")
    assert doc is not None and doc.data == {"a": 1} and problems == []
    _, problems = parse_yaml("x.yaml", "a: 1\nb: \x07\n")
    assert [d.format() for d in problems] == [
        "x.yaml:2:4: invalid YAML: character #x0007 is not allowed in YAML text"]
    _, problems = parse_yaml("x.yaml", b"a: 1\nb: \xff\n")
    assert [d.format() for d in problems] == ["x.yaml:2:4: the file is not valid UTF-8 text"]


def test_tabs_in_indentation() -> None:
    _, problems = parse_yaml("x.yaml", "a:\n\tb: 1\n")
    assert [d.format() for d in problems] == [
        "x.yaml:2:1: tab character in indentation: YAML indents with spaces only"]
    doc, problems = parse_yaml("x.yaml", "a: 'x\ty'\n")
    assert problems == [] and doc is not None and doc.data == {"a": "x\ty"}


def test_helpers() -> None:
    assert dotted(("fields", "email", "transform", 0, "phone")) == \
        "fields.email.transform[0].phone"
    assert dotted(()) == ""
    assert [value_key(v) for v in ("a", 1, 1.0, 1.5, True, None)] == [
        "a", "1", "1", "1.5", "true", "null"]
