# SPDX-License-Identifier: Apache-2.0
"""Functions, .process/emit, contexts on threads, timers and the Mandelbrot programs, from Python."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import varpulis
from varpulis import EngineError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "mandelbrot"


def tiles(rows):
    return [(f"ComputeTile{r}{c}", {}) for r in rows for c in range(4)]


def test_every_statement_kind_and_builtin_groups():
    engine = varpulis.Engine('''
fn classify(xs) -> str:
    var evens = 0
    var total = 0
    for x in xs:
        if x < 0:
            continue
        elif x > 100:
            break
        else:
            total := total + x
        if x % 2 == 0:
            evens := evens + 1
    let label = if evens > 1 then "even-heavy" else "odd-heavy"
    return label + ":" + to_string(total)

fn countdown(n: int) -> int:
    var i = n
    while i > 0:
        i := i - 1
    return i

stream S = In .emit(c: classify(xs), d: countdown(5), m: {"k": [1, 2][1]}["k"], s: substring("héllo", 1, 3))
''')
    assert engine.process("In", {"xs": [2, -5, 4, 7, 500, 8]}) == [
        {"event_type": "S", "c": "even-heavy:13", "d": 0, "m": 2, "s": "él"}
    ]


def test_process_outputs_are_named_after_the_stream_and_later_operators_apply():
    engine = varpulis.Engine('''
fn explode(n: int):
    for i in 0..n:
        emit Piece(i: i, big: i > 1)

stream Pieces = Order .process(explode(count)) .where(big) .emit(i: i)
''')
    assert engine.process("Order", {"count": 4}) == [{"event_type": "Pieces", "i": 2}, {"event_type": "Pieces", "i": 3}]


@pytest.mark.parametrize(
    "program, message",
    [
        ("fn spin() -> int:\n    while true:\n        1\n    0\nstream S = A .emit(v: spin())", "loop ran more than"),
        ("fn down(n: int) -> int:\n    return down(n + 1)\nstream S = A .emit(v: down(0))", "call depth exceeded"),
    ],
)
def test_runaway_programs_raise_clear_errors(program, message):
    engine = varpulis.Engine(program)
    with pytest.raises(EngineError, match=message):
        engine.process("A", {})


def test_compile_time_errors_for_functions():
    with pytest.raises(varpulis.VplError, match="unknown function 'nope'") as err:
        varpulis.Engine("fn f(x: int) -> int:\n    return nope(x)\nstream S = A .emit(v: f(1))")
    assert (err.value.code, err.value.line) == ("E050", 2)
    with pytest.raises(varpulis.VplError, match="takes 1 argument") as err:
        varpulis.Engine("fn f(x: int) -> int:\n    return x\nstream S = A .emit(v: f(1, 2))")
    assert err.value.code == "E051"


def test_division_by_zero_is_null_not_a_crash():
    engine = varpulis.Engine("fn ratio(a: int, b: int) -> int:\n    return a / b\nstream S = A .emit(r: ratio(x, y), ok: 1)")
    assert engine.process("A", {"x": 1, "y": 0}) == [{"event_type": "S", "ok": 1}]
    assert engine.process("A", {"x": 7, "y": 2}) == [{"event_type": "S", "r": 3, "ok": 1}]


def test_contexts_run_in_parallel_and_return_every_output():
    engine = varpulis.Engine('''
context left
context right
stream L = Work .context(left) .where(side == "l") .emit(n: n)
stream R = Work .context(right) .where(side == "r") .emit(n: n)
stream Both = L .context(right) .emit(from_left: n)
''')
    out = engine.process_many([("Work", {"side": "l", "n": 1}), ("Work", {"side": "r", "n": 2})])
    assert sorted((o["event_type"], o.get("n", o.get("from_left"))) for o in out) == [("Both", 1), ("L", 1), ("R", 2)]


def test_contexts_writing_one_file_never_interleave_lines(tmp_path):
    out = tmp_path / "out.jsonl"
    engine = varpulis.Engine(f'''
connector Out = file (path: "{out}")
fn burst(tag: str, n: int):
    for i in 0..n:
        emit Line(tag: tag, i: i, pad: "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")
context a
context b
context c
stream A = Go .context(a) .process(burst("a", n)) .to(Out)
stream B = Go .context(b) .process(burst("b", n)) .to(Out)
stream C = Go .context(c) .process(burst("c", n)) .to(Out)
''')
    assert len(engine.process("Go", {"n": 20000})) == 60000
    del engine  # closes the file
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted((o["tag"], o["i"]) for o in lines) == [(t, i) for t in "abc" for i in range(20000)]


def test_timers_fire_when_time_is_driven():
    engine = varpulis.Engine("stream Beat = timer(10s) .emit(at_ms: timestamp)")
    assert engine.advance_time(0) == [{"event_type": "Beat", "at_ms": 0}]
    assert engine.advance_time(25_000_000_000) == [{"event_type": "Beat", "at_ms": 10_000}, {"event_type": "Beat", "at_ms": 20_000}]


@pytest.mark.slow
def test_mandelbrot_sixteen_contexts_checksum():
    engine = varpulis.Engine((EXAMPLES / "mandelbrot_16ctx.vpl").read_text())
    pixels = engine.process_many(tiles(range(4)))
    assert len(pixels) == 1_000_000
    assert sum(p["iterations"] for p in pixels) == 47_554_279
    assert {p["event_type"] for p in pixels} == {f"Tile{r}{c}" for r in range(4) for c in range(4)}


@pytest.mark.slow
def test_mandelbrot_worker_programs_checksum():
    total_pixels, total_iterations = 0, 0
    for worker in range(4):
        engine = varpulis.Engine((EXAMPLES / "distributed" / f"mandelbrot_worker_{worker}.vpl").read_text())
        pixels = engine.process_many(tiles([worker]))
        total_pixels += len(pixels)
        total_iterations += sum(p["iterations"] for p in pixels)
    assert (total_pixels, total_iterations) == (1_000_000, 47_554_279)
