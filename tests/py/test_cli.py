# SPDX-License-Identifier: Apache-2.0
"""The ``varpulis`` executable: check, parse, --version, --help and their exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import varpulis


def test_version_matches_the_python_package(run_cli):
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == varpulis.__version__


def test_python_dash_m_forwards_to_the_cli():
    result = subprocess.run(
        [sys.executable, "-m", "varpulis", "--version"], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0
    assert result.stdout.strip() == varpulis.__version__


def test_help_on_every_level(run_cli):
    top = run_cli("--help")
    assert top.returncode == 0
    assert "check" in top.stdout and "parse" in top.stdout
    for command in ("check", "parse"):
        sub = run_cli(command, "--help")
        assert sub.returncode == 0, sub.stderr
        assert f"Usage: varpulis {command}" in sub.stdout


def test_check_valid_program(run_cli, repo_root):
    result = run_cli("check", str(repo_root / "examples/mandelbrot/distributed/mandelbrot_worker_0.vpl"))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Syntax OK\n   Statements: 10\n"


def test_check_reports_warnings_and_still_succeeds(run_cli, tmp_path):
    program = tmp_path / "w.vpl"
    program.write_text("stream Counts = Click .aggregate(n: count())\n")
    result = run_cli("check", str(program))
    assert result.returncode == 0
    assert "Syntax OK" in result.stdout
    assert "   Warnings: 1" in result.stdout
    assert f"{program}:1:23: warning[W001]" in result.stdout


def test_check_invalid_program_prints_diagnostics_and_exits_1(run_cli, tmp_path):
    program = tmp_path / "bad.vpl"
    program.write_text("stream Alerts = Reading\n    .where(temperature > )\n")
    result = run_cli("check", str(program))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"{program}:2:26: error[E000] unexpected ')'\n"
        "  hint: expected an expression\n"
        "   |\n"
        " 2 |     .where(temperature > )\n"
        "   |                          ^\n"
        f"\n1 error in {program}\n"
    )


def test_check_json_output(run_cli, tmp_path):
    program = tmp_path / "bad.vpl"
    program.write_text("let x = 1\nx := 2\n")
    result = run_cli("check", "--json", str(program))
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert report["diagnostics"][0]["code"] == "E040"
    assert report["diagnostics"][0]["line"] == 2


def test_check_reads_standard_input(run_cli):
    result = run_cli("check", "-", input="stream S = A .where(x > 1)\n")
    assert result.returncode == 0
    assert "Syntax OK" in result.stdout


def test_missing_file_and_bad_flags_exit_2(run_cli, tmp_path):
    missing = run_cli("check", str(tmp_path / "nope.vpl"))
    assert missing.returncode == 2
    assert "cannot read" in missing.stderr and "No such file" in missing.stderr
    assert run_cli("check", "--frobnicate", "x.vpl").returncode == 2
    assert run_cli("check").returncode == 2
    assert run_cli("nosuchcommand").returncode == 2


def test_parse_prints_the_ast_as_json(run_cli, repo_root):
    result = run_cli("parse", str(repo_root / "examples/tutorial/pipeline_a.vpl"))
    assert result.returncode == 0, result.stderr
    tree = json.loads(result.stdout)
    assert tree["statements"][0]["name"] == "A"


def test_binary_garbage_is_rejected_cleanly(run_cli, tmp_path):
    garbage = tmp_path / "garbage.vpl"
    garbage.write_bytes(bytes(range(256)) * 64)
    result = run_cli("check", str(garbage))
    assert result.returncode == 1
    assert "not valid UTF-8" in result.stderr
