# SPDX-License-Identifier: Apache-2.0
"""The Python surface of the VPL front end: check, parse, diagnostics and exceptions."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import varpulis
from varpulis import Diagnostic, VarpulisError, VplError, VplSyntaxError


def test_valid_program_has_no_diagnostics():
    assert varpulis.check("stream TempAlerts = TemperatureReading .where(temperature > 100) .emit(t: temperature)") == []


def test_syntax_error_is_a_diagnostic_with_position_and_hint():
    (d,) = varpulis.check("stream S = Reading\n    .where(temperature > )")
    assert d == Diagnostic("error", "E000", 2, 26, "unexpected ')'", "expected an expression")
    assert d.is_error
    assert str(d) == "2:26: error[E000] unexpected ')'"


def test_diagnostic_formats_with_source_line_and_caret():
    source = "let x = (1 + 2"
    (d,) = varpulis.check(source)
    assert d.format(source) == (
        "1:9: error[E000] '(' is never closed\n"
        "  hint: add the matching ')'\n"
        "   |\n"
        " 1 | let x = (1 + 2\n"
        "   |         ^\n"
    )


def test_validation_errors_and_warnings_come_together():
    diagnostics = varpulis.check("stream S = A .aggregate(n: count())\nlet x = 1\nx := 2")
    assert [(d.severity, d.code) for d in diagnostics] == [("warning", "W001"), ("error", "E040")]


def test_check_never_raises_for_bad_input():
    assert varpulis.check("\x00\x01 garbage \"")[0].code == "E000"
    assert varpulis.check("let x = " + "(" * 10000 + "1" + ")" * 10000)[0].message == (
        "brackets nested deeper than 128 levels"
    )


def test_parse_returns_the_syntax_tree():
    tree = varpulis.parse("stream A = EventA .emit(result: \"from-a\")")
    (stream,) = tree["statements"]
    assert stream["kind"] == "stream"
    assert stream["source"] == {"kind": "named", "name": "EventA"}
    assert stream["ops"][0]["args"][0] == {"name": "result", "value": {"literal": "from-a"}}


def test_syntax_error_raises_vpl_syntax_error():
    with pytest.raises(VplSyntaxError) as info:
        varpulis.parse("stream S = A\n  .where(x > )")
    err = info.value
    assert isinstance(err, SyntaxError)
    assert isinstance(err, VarpulisError)
    assert (err.line, err.column, err.message, err.code) == (2, 14, "unexpected ')'", "E000")
    assert err.lineno == 2
    assert str(err) == "2:14: [E000] unexpected ')' (hint: expected an expression)"


def test_validation_error_raises_vpl_error():
    with pytest.raises(VplError) as info:
        varpulis.parse("stream S = A .context(nowhere)")
    assert not isinstance(info.value, SyntaxError)
    assert info.value.code == "E031"
    assert info.value.column == 23


def test_api_error_carries_status_code_and_message():
    err = varpulis.ApiError(404, "not_found", "no pipeline p1")
    assert (err.status, err.code, err.message) == (404, "not_found", "no pipeline p1")
    assert str(err) == "HTTP 404 not_found: no pipeline p1"


def test_every_example_checks(repo_root: Path):
    programs = sorted((repo_root / "examples").rglob("*.vpl"))
    assert len(programs) >= 10
    for path in programs:
        diagnostics = varpulis.check(path.read_text())
        assert [d for d in diagnostics if d.is_error] == [], f"{path}: {diagnostics}"


def test_specification_snippets_check(repo_root: Path):
    seeds = repo_root.parent / "shared" / "spec" / "seeds"
    if not seeds.exists():
        pytest.skip(f"no specification documents at {seeds}")
    snippets = []
    for doc in seeds.glob("*.md"):
        text = doc.read_text()
        snippets += re.findall(r"```vpl\n(.*?)```", text, re.S)
        for raw in re.findall(r'"source": "((?:[^"\\]|\\.)*)"', text):
            if raw != "...":
                snippets.append(raw.replace('\\"', '"'))
    assert len(snippets) >= 5
    for source in snippets:
        assert [d for d in varpulis.check(source) if d.is_error] == [], source


def test_type_stubs_ship_with_the_package():
    package = Path(varpulis.__file__).parent
    assert (package / "py.typed").exists()
    assert (package / "_varpulis.pyi").exists()


def test_parse_returns_the_deepest_tree_the_budgets_allow():
    # 1,000 operators in a row make a tree 1,000 deep: past Python's recursion limit for json.loads
    # (it raised RecursionError); the tree is built in the native module instead.
    chain = " + ".join(["x"] * 1000)
    tree = varpulis.parse(f"let y = {chain}")
    node, depth = tree["statements"][0]["value"], 0
    while "binary" in node:
        node, depth = node["left"], depth + 1
    assert depth == 999 and node == {"ident": "x"}
