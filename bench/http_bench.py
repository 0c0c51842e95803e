#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Worker HTTP benchmark: `varpulis server` under wrk, against wrk on the trivial /health endpoint
of the same server in the same run (the transport's own limit).

    python bench/http_bench.py [--seconds 5]

Prints req/s for single injects with 1 and 64 connections, batch inject events/s, idle RSS and
start-to-/health time, with their targets. Checks that outputs were produced (counts).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from varpulis._binary import find_binary  # the installed package (pip install .)


def start_server(binary: str) -> tuple[subprocess.Popen, int, float]:
    start = time.monotonic()
    proc = subprocess.Popen([binary, "server", "--port", "0", "--api-key", "bench"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    port = None
    while port is None:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("server did not start")
        m = re.search(r"127\.0\.0\.1:(\d+)/api", line)
        if m:
            port = int(m.group(1))
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1).read()
            break
        except OSError:
            time.sleep(0.001)
    return proc, port, time.monotonic() - start


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def request(port: int, method: str, path: str, body=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"x-api-key": "bench", "Content-Type": "application/json"})
    return json.loads(urllib.request.urlopen(req, timeout=30).read())


def wrk(port: int, path: str, connections: int, seconds: int, body: str | None = None) -> float:
    script = None
    args = ["wrk", "-t", str(min(connections, 2)), "-c", str(connections), "-d", f"{seconds}s", "--latency"]
    if body is not None:
        script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
        script.write('wrk.method = "POST"\nwrk.headers["x-api-key"] = "bench"\n'
                     'wrk.headers["Content-Type"] = "application/json"\n'
                     f"wrk.body = {json.dumps(body)}\n")
        script.close()
        args += ["-s", script.name]
    args.append(f"http://127.0.0.1:{port}{path}")
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    if script:
        os.unlink(script.name)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise RuntimeError(f"{non2xx.group(1)} failed requests:\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("wrk is not installed (apt-get install wrk)")
        return 2
    proc, port, startup = start_server(find_binary())
    try:
        time.sleep(0.2)
        idle = rss_mb(proc.pid)
        pid = request(port, "POST", "/api/v1/pipelines",
                      {"name": "bench", "source": "stream Hot = Reading .where(temperature > 50) .emit(sensor: sensor_id, t: temperature)"})["id"]
        path = f"/api/v1/pipelines/{pid}/events"
        event = json.dumps({"event_type": "Reading", "fields": {"sensor_id": "s1", "temperature": 60.5}})
        rows = []
        for conns in (1, 64):
            base = wrk(port, "/health", conns, args.seconds)
            inject = wrk(port, path, conns, args.seconds, event)
            target = 8000 if conns == 1 else 40000
            rows.append((f"single inject, {conns} connection{'s' if conns > 1 else ''}", inject, base, target))
        outputs = request(port, "GET", f"/api/v1/pipelines/{pid}/metrics")["output_events_emitted"]
        events = [{"event_type": "Reading", "fields": {"sensor_id": f"s{i % 8}", "temperature": float(i % 100)}} for i in range(100_000)]
        body = json.dumps({"events": events}).encode()  # encoded once: the client's cost is not the server's
        # Two batches warm the server up first (the first ones pay for the memory its parsers and
        # buffers take from the kernel: 0.75-0.85 M ev/s against 1.1-1.6 M after), then five are timed.
        times = []
        for i in range(7):
            req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/pipelines/{pid}/events-batch", method="POST",
                                         data=body, headers={"x-api-key": "bench", "Content-Type": "application/json"})
            start = time.monotonic()
            raw = urllib.request.urlopen(req, timeout=60).read()
            if i >= 2:
                times.append(time.monotonic() - start)
            out = json.loads(raw)
            assert out["accepted"] == 100_000 and out.get("output_count", len(out["output_events"])) == 49_000
        batch_rate = 100_000 / sorted(times)[len(times) // 2]
    finally:
        proc.terminate()
        proc.wait(10)
    print(f"worker HTTP benchmark ({args.seconds} s per wrk run; baseline: wrk on GET /health of the same server)")
    for name, rate, base, target in rows:
        print(f"  {name:34s} {rate:10.0f} req/s   baseline {base:10.0f} req/s   ratio {100 * rate / base:5.1f}%   "
              f"target {target} {'met' if rate >= target else 'MISS'}")
    print(f"  {'batch inject (100,000 events)':34s} {batch_rate:10.0f} ev/s    target 1000000 {'met' if batch_rate >= 1e6 else 'MISS'}"
          f"   (median of 5 after 2 warm-up batches; each: {', '.join(f'{100_000 / t / 1e6:.2f}' for t in times)} M)")
    print(f"  {'idle RSS':34s} {idle:10.1f} MB      target <= 10 MB {'met' if idle <= 10 else 'MISS'}")
    print(f"  {'start to /health':34s} {startup * 1000:10.1f} ms      target < 100 ms {'met' if startup < 0.1 else 'MISS'}")
    print(f"  outputs produced by the inject runs: {outputs}")
    return 0 if outputs > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
