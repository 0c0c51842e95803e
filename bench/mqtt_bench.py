#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""MQTT end to end: publisher -> broker -> engine filter -> broker -> subscriber, against the
broker's own one-hop rate (publisher -> broker -> subscriber) measured in the same run.

Each run publishes N readings at QoS 0 with mosquitto_pub; the pipeline on a real `varpulis
server` keeps the even ones, so the subscriber must receive exactly N/2 alerts (checked).

    python bench/mqtt_bench.py [--events 200000] [--runs 3]
"""

from __future__ import annotations

import argparse
import getpass
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from varpulis import WorkerClient
from varpulis._binary import find_binary

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listens on {port}")


def subscriber(port: int, topic: str, count: int) -> subprocess.Popen:
    """mosquitto_sub that exits after `count` messages; returns once its subscription is acknowledged."""
    proc = subprocess.Popen(["stdbuf", "-oL", "mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-t", topic, "-C", str(count),
                             "-W", "120", "-d"], stdout=subprocess.PIPE, text=True)
    for line in proc.stdout:
        if "SUBACK" in line:
            return proc
    raise RuntimeError("mosquitto_sub did not subscribe")


def publish_and_wait(port: int, topic: str, lines: str, sub: subprocess.Popen, expected: int) -> float:
    """Publish every line at QoS 0; seconds until the subscriber has `expected` messages."""
    start = time.perf_counter()
    subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-t", topic, "-q", "0", "-l"], input=lines, text=True,
                   check=True)
    received = sum(1 for line in sub.stdout if line.startswith("{"))
    elapsed = time.perf_counter() - start
    sub.wait(10)
    sub.stdout.close()
    if received != expected or sub.returncode != 0:
        raise RuntimeError(f"the subscriber got {received} of {expected} messages (exit {sub.returncode})")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    n = args.events - args.events % 2
    work = Path(tempfile.mkdtemp(prefix="varpulis-mqtt-bench-"))
    port = free_port()
    conf = work / "mosquitto.conf"
    # No per-client queue limit (the default 1000 drops QoS 0 messages for a subscriber that falls behind).
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 0\n"
                    f"user {getpass.getuser()}\n")
    broker = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = subprocess.Popen([find_binary(), "server", "--port", "0", "--api-key", "bench"], stdout=subprocess.PIPE,
                              stderr=(work / "server.err").open("w"), text=True)
    try:
        wait_for_port(port)
        url = next(line.split()[1].rsplit("/api/", 1)[0] for line in server.stdout if line.startswith("API:"))
        client = WorkerClient(url, "bench")
        pid = client.deploy("mqtt-filter", f'''
connector Broker = mqtt(host: "127.0.0.1", port: {port}, client_id: "bench", qos: 0)
stream Even = Reading.from(Broker, topic: "bench/in")
    .where(i % 2 == 0)
    .emit(i: i, v: v)
    .to(Broker, topic: "bench/out")
''')["id"]
        deadline = time.monotonic() + 10
        while not all(c["connected"] for c in client.metrics(pid)["connectors"]):
            if time.monotonic() > deadline:
                raise RuntimeError("the pipeline's connectors did not connect")
            time.sleep(0.05)
        time.sleep(0.2)  # the source's SUBSCRIBE follows its CONNACK
        readings = "".join(json.dumps({"i": i, "v": i * 0.5}) + "\n" for i in range(n))
        one_hop, pipeline = [], []
        for run in range(args.runs):
            sub = subscriber(port, "bench/hop", n)
            one_hop.append(publish_and_wait(port, "bench/hop", readings, sub, n))
            before = client.metrics(pid)["events_processed"]
            sub = subscriber(port, "bench/out", n // 2)
            pipeline.append(publish_and_wait(port, "bench/in", readings, sub, n // 2))
            processed = client.metrics(pid)["events_processed"] - before
            if processed != n:
                raise RuntimeError(f"the pipeline processed {processed} of {n} readings")
            print(f"run {run + 1}: one hop {n / one_hop[-1]:,.0f} msg/s, pipeline {n / pipeline[-1]:,.0f} events/s", flush=True)
        hop_rate = n / statistics.median(one_hop)
        pipe_rate = n / statistics.median(pipeline)
        print(f"\n{n:,} readings at QoS 0, median of {args.runs}:")
        print(f"  broker one hop (pub -> broker -> sub):                       {hop_rate:>10,.0f} msg/s")
        print(f"  pipeline (pub -> broker -> filter -> broker -> sub, {n // 2:,} out): {pipe_rate:>10,.0f} events/s"
              f" = {pipe_rate / hop_rate:.2f} x one hop (target >= 50,000 events/s)")
        return 0 if pipe_rate >= 50_000 else 1
    finally:
        server.terminate()
        server.wait(15)
        server.stdout.close()
        broker.terminate()
        broker.wait(10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
