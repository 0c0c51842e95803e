# SPDX-License-Identifier: Apache-2.0
"""The distributed Mandelbrot demo as users run it: the deploy script and the benchmark."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_deploy_script_computes_every_pixel_and_prints_the_topology(tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "examples/mandelbrot/distributed/deploy.py"),
                          "--coordinator-port", "0", "--worker-port", "0", "--run-dir", str(tmp_path)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "1,000,000 pixels" in out.stdout
    for r in range(4):
        assert f"row{r} on worker-{r}" in out.stdout
    assert '"ComputeTile3*"' in out.stdout  # the routes in the topology
    assert sorted(p.name for p in tmp_path.glob("*.log")) == ["coordinator.log"] + [f"worker-{r}.log" for r in range(4)]


def test_deploy_script_reports_a_taken_port(tmp_path):
    import socket
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = subprocess.run([sys.executable, str(ROOT / "examples/mandelbrot/distributed/deploy.py"),
                              "--coordinator-port", str(port), "--run-dir", str(tmp_path)],
                             capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert f"cannot start the coordinator on port {port}" in out.stderr


@pytest.mark.slow
def test_bench_prints_the_table_and_writes_the_png(tmp_path):
    png = tmp_path / "m.png"
    out = subprocess.run([sys.executable, str(ROOT / "bench/bench.py"), "--runs", "1", "--out", str(png),
                          "--run-dir", str(tmp_path / "run")], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "every run checksum 47,554,279 OK" in out.stdout
    for label in ("native C++, 1 thread", "1 server, 1 context", "1 server, 16 contexts", "4 workers x 4 contexts"):
        assert re.search(re.escape(label) + r"\s+\d+\.\d{3}", out.stdout), label
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[16:24] == (1000).to_bytes(4, "big") * 2
    assert not list((tmp_path / "run").glob("pixels-*")), "pixel files are removed once checked"


def test_mqtt_variant_renders_the_image_from_columns_published_to_a_broker(tmp_path):
    png = tmp_path / "m.png"
    out = subprocess.run([sys.executable, str(ROOT / "examples/mandelbrot/mqtt/demo.py"), "--mode", "columns",
                          "--out", str(png), "--run-dir", str(tmp_path / "run")], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert re.search(r"columns\s+4,000 messages\s+\d+\.\d\d s .* checksum 47,554,279 OK", out.stdout), out.stdout
    assert png.read_bytes().startswith(b"\x89PNG")
