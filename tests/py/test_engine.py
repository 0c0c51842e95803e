# SPDX-License-Identifier: Apache-2.0
"""varpulis.Engine: processing events in-process, errors as exceptions."""

from __future__ import annotations

import threading

import pytest

import varpulis
from varpulis import EngineError, VplError, VplSyntaxError

TEMP = """
stream TempAlerts = TemperatureReading
    .where(temperature > 100)
    .emit(alert_type: "HIGH_TEMP", sensor_id: sensor_id, temperature: temperature)
"""


def test_process_returns_flat_outputs():
    engine = varpulis.Engine(TEMP)
    assert engine.process("TemperatureReading", {"sensor_id": "T1", "temperature": 105.5}) == [
        {"event_type": "TempAlerts", "alert_type": "HIGH_TEMP", "sensor_id": "T1", "temperature": 105.5}
    ]
    assert engine.process("TemperatureReading", {"sensor_id": "T2", "temperature": 20}) == []
    assert engine.stats()["events_in"] == 2
    assert engine.streams == ["TempAlerts"]


def test_values_round_trip():
    engine = varpulis.Engine("stream Echo = In .emit(i: i, f: f, s: s, b: b, l: l, m: m, n: n)")
    fields = {"i": 1, "f": 2.5, "s": "x", "b": True, "l": [1, "a", None], "m": {"k": [1]}, "n": None}
    (out,) = engine.process("In", fields)
    assert out == {"event_type": "Echo", "i": 1, "f": 2.5, "s": "x", "b": True, "l": [1, "a", None], "m": {"k": [1]}}


def test_timestamps_drive_time_windows_and_flush_closes_them():
    engine = varpulis.Engine("stream W = Click .window(10s) .aggregate(n: count()) .emit(n: n)")
    seconds = 1_000_000_000
    assert engine.process("Click", {}, timestamp=0) == []
    assert engine.process("Click", {}) == []  # same time as the previous event
    assert engine.process("Click", {}, timestamp=12 * seconds) == [{"event_type": "W", "n": 2}]
    assert engine.flush() == [{"event_type": "W", "n": 1}]


def test_process_many_accepts_both_tuple_forms():
    engine = varpulis.Engine("stream S = A as a -> B as b .within(5s) .emit(a: a.v, b: b.v)")
    s = 1_000_000_000
    out = engine.process_many([("A", {"v": 1}, 0), ("B", {"v": 2}), ("A", {"v": 3}, 10 * s), ("B", {"v": 4}, 20 * s)])
    assert out == [{"event_type": "S", "a": 1, "b": 2}]


def test_run_file(tmp_path):
    program = varpulis.Engine(TEMP)
    events = tmp_path / "in.evt"
    events.write_text('TemperatureReading { sensor_id: "a", temperature: 101 }\n@1s TemperatureReading { sensor_id: "b", temperature: 1 }\n')
    assert program.run_file(events) == [{"event_type": "TempAlerts", "alert_type": "HIGH_TEMP", "sensor_id": "a", "temperature": 101}]


def test_bad_programs_raise():
    with pytest.raises(VplSyntaxError) as err:
        varpulis.Engine("stream S = A .where(")
    assert err.value.line == 1
    with pytest.raises(VplError) as err:
        varpulis.Engine("stream S = A .emit(v: 1) .to(Nowhere)")
    assert err.value.code == "E030"


def test_runtime_errors_raise_engine_error_and_the_engine_goes_on():
    engine = varpulis.Engine("fn down(n: int) -> int:\n    return down(n + 1)\nstream S = A .where(go) .emit(v: down(0))\nstream T = A .emit(ok: 1)")
    with pytest.raises(EngineError, match="call depth exceeded"):
        engine.process("A", {"go": True})
    assert engine.process("A", {"go": False}) == [{"event_type": "T", "ok": 1}]
    assert engine.stats()["errors"] == 1


def test_bad_events_raise_clear_errors():
    engine = varpulis.Engine(TEMP)
    with pytest.raises(ValueError, match="non-empty"):
        engine.process("", {})
    with pytest.raises(TypeError, match="dict"):
        engine.process("A", [1, 2])
    with pytest.raises(TypeError, match="VPL value"):
        engine.process("A", {"x": object()})
    deep = current = {}
    for _ in range(100):
        current["d"] = {}
        current = current["d"]
    with pytest.raises(ValueError, match="nested deeper"):
        engine.process("A", {"x": deep})


def test_huge_strings_and_many_fields_are_processed():
    engine = varpulis.Engine("stream S = A .where(len(s) > 1000000) .emit(n: len(s), f: f999)")
    fields = {f"f{i}": i for i in range(1000)}
    fields["s"] = "x" * 2_000_000
    assert engine.process("A", fields) == [{"event_type": "S", "n": 2_000_000, "f": 999}]


def test_gil_is_released_while_the_engine_works():
    engine = varpulis.Engine("fn spin(n: int) -> int:\n    var t = 0\n    for i in 0..n:\n        t := t + i\n    t\nstream S = A .emit(v: spin(n))")
    ticks = []
    stop = threading.Event()

    def ticker():
        while not stop.is_set():
            ticks.append(1)
            stop.wait(0.001)

    t = threading.Thread(target=ticker)
    t.start()
    try:
        out = engine.process("A", {"n": 3_000_000})
    finally:
        stop.set()
        t.join()
    assert out == [{"event_type": "S", "v": sum(range(3_000_000))}]
    assert len(ticks) > 5  # the other thread ran while the engine computed


def test_variables():
    engine = varpulis.Engine("let a = 2\nvar b = a * 3")
    assert engine.variable("b") == 6
    with pytest.raises(KeyError):
        engine.variable("zzz")
