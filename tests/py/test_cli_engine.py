# SPDX-License-Identifier: Apache-2.0
"""`varpulis simulate` and `varpulis run` as a user runs them."""

from __future__ import annotations

import json
import signal
import subprocess
import time

PROGRAM = """
stream HighTemp = SensorReading
    .where(temperature > 100)
    .emit(sensor: sensor_id, temp: temperature)
"""

EVENTS = """
SensorReading { sensor_id: "S1", temperature: 105.5 }
SensorReading { sensor_id: "S2", temperature: 95.0 }
SensorReading { sensor_id: "S3", temperature: 110 }
"""


def write(tmp_path, program=PROGRAM, events=EVENTS):
    p, e = tmp_path / "p.vpl", tmp_path / "e.evt"
    p.write_text(program)
    e.write_text(events)
    return str(p), str(e)


def test_simulate_prints_header_summary_and_outputs(run_cli, tmp_path):
    p, e = write(tmp_path)
    result = run_cli("simulate", "-p", p, "-e", e)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("Varpulis Event Simulation\n")
    assert "Mode:    immediate" in out and "Program loaded: 1 streams" in out
    assert "Events processed: 3" in out and "Output events emitted: 2" in out
    assert '  - HighTemp: {"sensor":"S1","temp":105.5}' in out
    assert '  - HighTemp: {"sensor":"S3","temp":110}' in out


def test_simulate_json_prints_only_outputs_on_stdout(run_cli, tmp_path):
    p, e = write(tmp_path)
    result = run_cli("simulate", "-p", p, "-e", e, "--json")
    assert result.returncode == 0
    assert [json.loads(line) for line in result.stdout.splitlines()] == [
        {"event_type": "HighTemp", "sensor": "S1", "temp": 105.5},
        {"event_type": "HighTemp", "sensor": "S3", "temp": 110},
    ]
    assert "Simulation Complete" in result.stderr


def test_simulate_verbose_and_timed(run_cli, tmp_path):
    p, e = write(tmp_path, events="@0ms SensorReading { sensor_id: \"a\", temperature: 101 }\n@300ms SensorReading { sensor_id: \"b\", temperature: 102 }\n")
    start = time.monotonic()
    result = run_cli("simulate", "-p", p, "-e", e, "--timed", "--verbose")
    assert result.returncode == 0
    assert time.monotonic() - start >= 0.3  # the second event waited for its offset
    assert "Mode:    timed" in result.stdout
    assert result.stdout.count("OUTPUT EVENT: HighTemp") == 2


def test_simulate_errors(run_cli, tmp_path):
    p, e = write(tmp_path, program="stream S = A .where(x > )")
    bad = run_cli("simulate", "-p", p, "-e", e)
    assert bad.returncode == 1 and "error[E000]" in bad.stderr
    p, e = write(tmp_path, events="SensorReading { temperature 5 }\n")
    bad_events = run_cli("simulate", "-p", p, "-e", e)
    assert bad_events.returncode == 1
    assert "line 1: field 'temperature 5' needs name: value" in bad_events.stderr
    assert run_cli("simulate", "-p", p).returncode == 2
    assert run_cli("simulate", "-p", p, "-e", str(tmp_path / "missing.evt")).returncode == 2
    assert run_cli("simulate", "-p", p, "-e", e, "-w", "4").returncode == 2


def test_run_fires_timers_and_stops_on_sigint(varpulis_bin):
    proc = subprocess.Popen(
        [varpulis_bin, "run", "-c", "stream Beat = timer(100ms) .emit(n: 1)"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 10
        lines = []
        while time.monotonic() < deadline and len([l for l in lines if l.startswith("{")]) < 3:
            lines.append(proc.stdout.readline())
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    beats = [json.loads(line) for line in lines if line.startswith("{")]
    assert len(beats) >= 3 and beats[0]["event_type"] == "Beat"
    assert proc.returncode == 0
    assert "Final Statistics:" in rest


def test_run_without_sources_explains(run_cli):
    result = run_cli("run", "-c", "stream S = A .emit(v: 1)")
    assert result.returncode == 0
    assert "no sources" in result.stdout
