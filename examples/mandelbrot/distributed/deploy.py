#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The cluster tutorial's distributed Mandelbrot deployment (Part 10), from Python.

    python examples/mandelbrot/distributed/deploy.py [--coordinator-port 9100] [--worker-port 9000]

1. starts the coordinator on port 9100 and 4 workers on ports 9000-9003 (logs in a run folder),
2. waits for the workers to register,
3. deploys the group "mandelbrot": pipeline row{r} = mandelbrot_worker_{r}.vpl on worker-{r},
   with the route ComputeTile{r}* -> row{r},
4. injects the 16 ComputeTile{row}{col} events in parallel and counts the pixels,
5. prints the topology, then stops every process it started.

Use --keep to leave the cluster running (Ctrl-C stops it).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from varpulis import LocalCluster, VarpulisError

HERE = Path(__file__).resolve().parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--coordinator-port", type=int, default=9100)
    parser.add_argument("--worker-port", type=int, default=9000,
                        help="first worker port; workers use 4 in a row (0: free ports)")
    parser.add_argument("--run-dir", help="folder for the process logs (default: a new temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the cluster running until Ctrl-C")
    args = parser.parse_args()
    try:
        cluster = LocalCluster(workers=0, run_dir=args.run_dir, coordinator_port=args.coordinator_port)
    except VarpulisError as e:
        print(f"error: cannot start the coordinator on port {args.coordinator_port}: {e}", file=sys.stderr)
        return 1
    with cluster:
        print(f"coordinator {cluster.coordinator_url}  (logs in {cluster.run_dir})")
        try:
            for r in range(4):
                worker = cluster.start_worker(f"worker-{r}", args.worker_port and args.worker_port + r)
                print(f"worker-{r}     {worker.url}")
        except VarpulisError as e:
            print(f"error: cannot start worker-{r} on port {args.worker_port + r}: {e}", file=sys.stderr)
            return 1
        cluster.wait_for_workers(4)
        c = cluster.coordinator
        pipelines = [{"name": f"row{r}", "worker_affinity": f"worker-{r}",
                      "source": (HERE / f"mandelbrot_worker_{r}.vpl").read_text()} for r in range(4)]
        routes = [{"from_pipeline": "_external", "to_pipeline": f"row{r}", "event_types": [f"ComputeTile{r}*"]}
                  for r in range(4)]
        group = c.deploy_group("mandelbrot", pipelines, routes)
        print(f"group {group['id']}: " + ", ".join(f"{p['pipeline_name']} on {p['worker_id']}" for p in group["placements"]))

        tiles = [f"ComputeTile{r}{col}" for r in range(4) for col in range(4)]
        start = time.perf_counter()
        with ThreadPoolExecutor(len(tiles)) as pool:
            answers = list(pool.map(lambda t: c.inject(group["id"], t, {}, max_output_events=0), tiles))
        elapsed = time.perf_counter() - start
        pixels = sum(a["worker_response"].get("output_count", 0) for a in answers)
        print(f"16 tiles injected in parallel: {pixels:,} pixels in {elapsed:.2f} s")
        print("topology:")
        print(json.dumps(c.topology(), indent=2))
        if args.keep:
            print("cluster running; Ctrl-C stops it")
            try:
                while True:
                    time.sleep(1)
            except KeyboardInterrupt:
                pass
    return 0 if pixels == 1_000_000 else 1


if __name__ == "__main__":
    sys.exit(main())
