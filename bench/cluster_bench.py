#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Coordinator overhead: inject through the coordinator against injecting into the worker
directly (same pipeline, same run), batch inject both ways, and the coordinator's CPU while 1,000
simulated workers heartbeat at the default 5 s interval. The inject runs are repeated against a
coordinator started with --busy-poll-us (opt-in busy polling).

    python bench/cluster_bench.py [--seconds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

from varpulis import LocalCluster


def wrk(url: str, body: str, key: str, connections: int, seconds: int) -> tuple[float, float]:
    script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    script.write(f'wrk.method = "POST"\nwrk.headers["x-api-key"] = "{key}"\nwrk.headers["Content-Type"] = "application/json"\n'
                 f"wrk.body = {json.dumps(body)}\n")
    script.close()
    out = subprocess.run(["wrk", "-t", "1", "-c", str(connections), "-d", f"{seconds}s", "--latency", "-s", script.name, url],
                         capture_output=True, text=True, check=True).stdout
    os.unlink(script.name)
    if "Non-2xx" in out:
        raise RuntimeError(out)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 1, "ms": 1000, "s": 1_000_000}[p50.group(2)]
    return rate, float(p50.group(1)) * scale


def post(url: str, key: str, body: bytes) -> dict:
    req = urllib.request.Request(url, method="POST", data=body, headers={"x-api-key": key, "Content-Type": "application/json"})
    return json.loads(urllib.request.urlopen(req, timeout=60).read())


def cpu_seconds(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


BUSY_POLL_US = 50


def deploy_bench_group(cluster: LocalCluster) -> tuple[str, str, str]:
    """Deploy the benchmark's pipeline; returns the event, the worker's URL for it and the coordinator's."""
    group = cluster.coordinator.deploy_group("bench", [{"name": "p", "source": "stream Hot = Reading .where(temperature > 50) .emit(t: temperature)"}])
    placement = group["placements"][0]
    event = json.dumps({"event_type": "Reading", "fields": {"temperature": 60.5}})
    direct_url = f"{placement['worker_address']}/api/v1/pipelines/{placement['pipeline_id']}/events"
    via_url = f"{cluster.coordinator_url}/api/v1/cluster/pipeline-groups/{group['id']}/inject"
    return event, direct_url, via_url


def inject_rows(event: str, direct_url: str, via_url: str, args: argparse.Namespace) -> list:
    """Direct and routed runs alternate in short rounds and each round gives a ratio: this
    machine's speed drifts (shared host), and back-to-back pairs see the same drift."""
    rows = []
    for conns in (1, 16):
        pairs = [(wrk(direct_url, event, "test", conns, args.seconds), wrk(via_url, event, "admin", conns, args.seconds))
                 for _ in range(args.rounds)]
        pairs.sort(key=lambda p: p[1][0] / p[0][0])
        rows.append((conns, *pairs[len(pairs) // 2], [p[1][0] / p[0][0] for p in pairs]))
    return rows


def print_inject_rows(title: str, rows: list) -> None:
    print(title)
    for conns, (d_rate, d_p50), (v_rate, v_p50), ratios in rows:
        print(f"  inject, {conns:2d} connection(s): direct {d_rate:8.0f} req/s p50 {d_p50:6.0f} us   via coordinator {v_rate:8.0f} req/s "
              f"p50 {v_p50:6.0f} us   ratio {100 * v_rate / d_rate:5.1f}% (target >= 60%)   added p50 {v_p50 - d_p50:5.0f} us (target <= 150)")
        print(f"      every pair's ratio: {', '.join(f'{100 * r:.0f}%' for r in ratios)}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=2, help="length of each wrk run")
    parser.add_argument("--rounds", type=int, default=5, help="direct/routed pairs per connection count (median reported)")
    args = parser.parse_args()
    # The same runs against a coordinator that busy-polls (an opt-in: a core's time for the
    # wake-ups a virtual machine makes slow).
    with LocalCluster(workers=1, heartbeat_interval=5, heartbeat_timeout=15,
                      coordinator_args=["--busy-poll-us", str(BUSY_POLL_US)]) as cluster:
        busy_rows = inject_rows(*deploy_bench_group(cluster), args)
    with LocalCluster(workers=1, heartbeat_interval=5, heartbeat_timeout=15) as cluster:
        event, direct_url, via_url = deploy_bench_group(cluster)
        rows = inject_rows(event, direct_url, via_url, args)
        events = [{"event_type": "Reading", "fields": {"temperature": float(i % 100)}} for i in range(50_000)]
        direct_body = json.dumps({"events": events}).encode()
        batch_pairs = []
        for _ in range(2):  # warm-up: the first batches pay for the parsers' and buffers' memory
            post(direct_url.replace("/events", "/events-batch"), "test", direct_body)
            post(via_url.replace("/inject", "/inject-batch"), "admin", direct_body)
        for _ in range(args.rounds):
            start = time.monotonic()
            assert post(direct_url.replace("/events", "/events-batch"), "test", direct_body)["accepted"] == 50_000
            mid = time.monotonic()
            assert post(via_url.replace("/inject", "/inject-batch"), "admin", direct_body)["accepted"] == 50_000
            batch_pairs.append((50_000 / (mid - start), 50_000 / (time.monotonic() - mid)))
        batch_pairs.sort(key=lambda p: p[1] / p[0])
        batch_direct, batch_via = batch_pairs[len(batch_pairs) // 2]
        # 1,000 simulated workers: register, then heartbeat every 5 s (spread evenly).
        base = cluster.coordinator_url + "/api/v1/cluster/workers"
        tokens = []
        for i in range(1000):
            reply = post(base + "/register", "", json.dumps({"worker_id": f"sim-{i}", "address": "http://127.0.0.1:9"}).encode())
            tokens.append(reply["heartbeat_token"])
        pid = cluster._procs["coordinator"].pid
        stop = threading.Event()

        def beat(first: int):
            conn_url = base
            i = first
            while not stop.is_set():
                req = urllib.request.Request(f"{conn_url}/sim-{i}/heartbeat", method="POST", data=b'{"events_processed": 1}',
                                             headers={"x-worker-token": tokens[i]})
                urllib.request.urlopen(req, timeout=10).read()
                i = (i + 4) % 1000
                stop.wait(5.0 / 250)  # 4 threads x 50/s = 200 heartbeats/s = 1,000 workers every 5 s

        threads = [threading.Thread(target=beat, args=(k,)) for k in range(4)]
        cpu0, wall0 = cpu_seconds(pid), time.monotonic()
        for t in threads:
            t.start()
        time.sleep(10)
        stop.set()
        for t in threads:
            t.join()
        cpu_share = (cpu_seconds(pid) - cpu0) / (time.monotonic() - wall0)
    common = f"{args.rounds} direct/routed pairs of {args.seconds} s wrk runs, median pair; one worker, same machine"
    print_inject_rows(f"coordinator benchmark ({common})", rows)
    print_inject_rows(f"  the same with --busy-poll-us {BUSY_POLL_US}:", busy_rows)
    print(f"  inject-batch (50,000 events): direct {batch_direct:9.0f} ev/s   via coordinator {batch_via:9.0f} ev/s   "
          f"ratio {100 * batch_via / batch_direct:5.1f}% (target >= 50%)")
    print(f"      every pair's ratio: {', '.join(f'{100 * v / d:.0f}%' for d, v in batch_pairs)}")
    print(f"  1,000 simulated workers heartbeating every 5 s: coordinator CPU {100 * cpu_share:.2f}% of one core (target < 5%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
