# SPDX-License-Identifier: Apache-2.0
"""The golden scenarios of tests/scenarios, through the Python engine (GoogleTest runs them too)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

import varpulis

SCENARIOS = sorted((Path(__file__).resolve().parents[1] / "scenarios").rglob("*.vpl"))


def same(a, b) -> bool:
    """Numbers compare by value (1e-9 relative) but an integer never equals a float."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if isinstance(a, float) != isinstance(b, float):
            return False
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def test_corpus_is_large_enough():
    assert len(SCENARIOS) >= 80
    for vpl in SCENARIOS:
        header = vpl.read_text().splitlines()[:3]
        assert [line.split(":")[0] for line in header] == ["# name", "# description", "# group"], vpl


@pytest.mark.parametrize("vpl", SCENARIOS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_scenario(vpl: Path):
    engine = varpulis.Engine(vpl.read_text())
    actual = engine.run_file(vpl.with_suffix(".evt"))
    expected = [json.loads(line) for line in vpl.with_suffix(".expected").read_text().splitlines() if line]
    assert same(actual, expected), f"expected {expected}\nactual   {actual}"
