#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The distributed Mandelbrot demo with its pixels published to MQTT and rendered by a subscriber.

A coordinator and 4 workers (real processes) run the tutorial's group: one pipeline per tile row,
4 contexts each. The pipelines publish to `mandelbrot/pixels`; render.py's subscriber paints the
image and checks the checksum. Two message shapes are measured:

  pixels   one message per pixel (the seed's programs plus `.to(MqttOut, topic: ...)`): 1,000,000 messages
  columns  one message per 250-pixel column of a tile (columns.vpl): 4,000 messages

Time is from the first inject to the last pixel at the subscriber. Without --broker a private
mosquitto is started on a free port (no per-client queue limit; a default mosquitto drops QoS 0
messages for a subscriber more than 1,000 behind, which the pixels mode is).

    python examples/mandelbrot/mqtt/demo.py [--broker HOST:PORT] [--mode both|pixels|columns] [--out mandelbrot_mqtt.png]
"""

from __future__ import annotations

import argparse
import getpass
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from varpulis import LocalCluster

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from mandelbrot_png import CHECKSUM, PIXELS, write_png  # noqa: E402  (examples is not a package)
from render import TOPIC, Renderer  # noqa: E402

TILES = [(row, col) for row in range(4) for col in range(4)]


def mqtt_connector(host: str, port: int, row: int) -> str:
    return f'connector MqttOut = mqtt(host: "{host}", port: {port}, client_id: "mandelbrot-w{row}")\n'


def pixels_program(host: str, port: int, row: int) -> str:
    """The seed's worker program, its tiles published one pixel per message."""
    lines = [mqtt_connector(host, port, row)]
    for line in (HERE.parent / "distributed" / f"mandelbrot_worker_{row}.vpl").read_text().splitlines():
        lines.append(line)
        if line.lstrip().startswith(".process("):
            lines.append(f'    .to(MqttOut, topic: "{TOPIC}")')
    return "\n".join(lines) + "\n"


def columns_program(host: str, port: int, row: int) -> str:
    """columns.vpl with the worker's 4 tiles, one context each, one message per column."""
    text = [mqtt_connector(host, port, row), (HERE / "columns.vpl").read_text()]
    text += [f"context t{row}{col}" for col in range(4)]
    for col in range(4):
        text.append(f"stream Tile{row}{col} = ComputeTile{row}{col}\n    .context(t{row}{col})\n"
                    f"    .process(compute_columns({col * 250}, {row * 250}, 250, 256))\n"
                    f'    .to(MqttOut, topic: "{TOPIC}")')
    return "\n".join(text) + "\n"


def start_broker(work: Path) -> tuple[subprocess.Popen, int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conf = work / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 0\n"
                    f"user {getpass.getuser()}\n")
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    proc = subprocess.Popen([mosquitto, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.02)
    proc.kill()
    raise SystemExit(f"error: mosquitto did not start on port {port}")


def run_mode(cluster: LocalCluster, mode: str, host: str, port: int) -> tuple[float, Renderer]:
    make = pixels_program if mode == "pixels" else columns_program
    pipelines = [{"name": f"row{r}", "worker_affinity": f"worker-{r}", "source": make(host, port, r)} for r in range(4)]
    routes = [{"from_pipeline": "_external", "to_pipeline": f"row{r}", "event_types": [f"ComputeTile{r}*"]} for r in range(4)]
    coordinator = cluster.coordinator
    gid = coordinator.deploy_group(f"mandelbrot-{mode}", pipelines, routes)["id"]
    renderer = Renderer(host, port)
    try:
        start = time.perf_counter()
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda t: coordinator.inject(gid, f"ComputeTile{t[0]}{t[1]}", {}, max_output_events=0), TILES))
        complete = renderer.wait(idle_timeout=10)
        elapsed = time.perf_counter() - start
    finally:
        renderer.close()
        coordinator.teardown(gid)
    if not complete or renderer.checksum != CHECKSUM:
        raise SystemExit(f"error: {mode}: {renderer.pixels:,} of {PIXELS:,} pixels arrived, checksum {renderer.checksum:,}"
                         f" (expected {CHECKSUM:,}); a broker with a per-client queue limit drops QoS 0 messages")
    return elapsed, renderer


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--broker", help="HOST:PORT of an MQTT broker (default: start a private mosquitto)")
    parser.add_argument("--mode", choices=["both", "pixels", "columns"], default="both")
    parser.add_argument("--out", default="mandelbrot_mqtt.png")
    parser.add_argument("--run-dir", help="folder for process logs (default: a new temporary folder)")
    args = parser.parse_args()
    work = Path(args.run_dir or tempfile.mkdtemp(prefix="varpulis-mqtt-demo-")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    broker = None
    if args.broker:
        host, _, port_text = args.broker.rpartition(":")
        port = int(port_text)
    else:
        broker, port = start_broker(work)
        host = "127.0.0.1"
    modes = ["columns", "pixels"] if args.mode == "both" else [args.mode]
    results = {}
    try:
        with LocalCluster(workers=4, run_dir=str(work / "cluster")) as cluster:
            for mode in modes:
                elapsed, renderer = run_mode(cluster, mode, host, port)
                results[mode] = (elapsed, renderer.messages)
                print(f"{mode:8} {renderer.messages:>9,} messages  {elapsed:6.2f} s  {PIXELS / elapsed:>11,.0f} pixels/s  "
                      f"checksum {renderer.checksum:,} OK", flush=True)
                write_png(Path(args.out), renderer.image)
    finally:
        if broker:
            broker.terminate()
            broker.wait(10)
    print(f"image: {args.out} (logs: {work})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
