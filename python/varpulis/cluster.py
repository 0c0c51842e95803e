# SPDX-License-Identifier: Apache-2.0
"""Clusters from Python: a client of the coordinator API and a local cluster of real processes."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import tempfile
import time
import weakref
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

from ._binary import find_binary
from .client import WorkerClient, _HttpClient
from .errors import ApiError, VarpulisError


class CoordinatorClient(_HttpClient):
    """Every endpoint of the coordinator API (``varpulis coordinator``)."""

    def health(self) -> dict[str, Any]:
        return self.request("GET", "/health")

    def workers(self) -> dict[str, Any]:
        return self.request("GET", "/api/v1/cluster/workers")

    def worker(self, worker_id: str) -> dict[str, Any]:
        return self.request("GET", f"/api/v1/cluster/workers/{worker_id}")

    def deregister(self, worker_id: str) -> dict[str, Any]:
        return self.request("DELETE", f"/api/v1/cluster/workers/{worker_id}")

    def drain(self, worker_id: str) -> dict[str, Any]:
        return self.request("POST", f"/api/v1/cluster/workers/{worker_id}/drain")

    def deploy_group(self, name: str, pipelines: Sequence[Mapping[str, Any]], routes: Sequence[Mapping[str, Any]] = (),
                     placement: Optional[str] = None) -> dict[str, Any]:
        """Deploy a pipeline group: ``pipelines`` are ``{"name", "source", "worker_affinity"?}``."""
        body: dict[str, Any] = {"name": name, "pipelines": list(pipelines), "routes": list(routes)}
        if placement:
            body["placement"] = placement
        return self.request("POST", "/api/v1/cluster/pipeline-groups", body)

    def groups(self) -> dict[str, Any]:
        return self.request("GET", "/api/v1/cluster/pipeline-groups")

    def group(self, group_id: str) -> dict[str, Any]:
        return self.request("GET", f"/api/v1/cluster/pipeline-groups/{group_id}")

    def teardown(self, group_id: str) -> dict[str, Any]:
        return self.request("DELETE", f"/api/v1/cluster/pipeline-groups/{group_id}")

    def inject(self, group_id: str, event_type: str, fields: Optional[Mapping[str, Any]] = None,
               max_output_events: Optional[int] = None) -> dict[str, Any]:
        """Route one event; returns ``{"routed_to", "worker_id", "worker_response"}``."""
        body: dict[str, Any] = {"event_type": event_type, "fields": dict(fields or {})}
        if max_output_events is not None:
            body["max_output_events"] = max_output_events
        return self.request("POST", f"/api/v1/cluster/pipeline-groups/{group_id}/inject", body)

    def inject_batch(self, group_id: str, events: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        return self.request("POST", f"/api/v1/cluster/pipeline-groups/{group_id}/inject-batch", {"events": list(events)})

    def topology(self) -> dict[str, Any]:
        return self.request("GET", "/api/v1/cluster/topology")


class Coordinator:
    """``varpulis coordinator`` running inside this Python process (the same C++ code, on its own threads).

    Use as a context manager; ``port=0`` picks a free port (see ``.port``, ``.url``, ``.client()``).
    ``busy_poll_us`` is ``--busy-poll-us`` (0: off).
    """

    def __init__(self, port: int = 0, api_key: Optional[str] = None, *, bind: str = "127.0.0.1",
                 join_token: Optional[str] = None, heartbeat_interval: float = 5.0, heartbeat_timeout: float = 15.0,
                 state_dir: Optional[str] = None, busy_poll_us: int = 0):
        from . import _varpulis

        self.api_key = api_key or ""
        self._coordinator = _varpulis.Coordinator(port, self.api_key, bind, join_token or "", heartbeat_interval,
                                                  heartbeat_timeout, state_dir or "", busy_poll_us)

    @property
    def port(self) -> int:
        return self._coordinator.port

    @property
    def url(self) -> str:
        return self._coordinator.url

    def client(self) -> CoordinatorClient:
        return CoordinatorClient(self.url, self.api_key)

    def stop(self) -> None:
        self._coordinator.stop()

    def __enter__(self) -> "Coordinator":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _stop_processes(procs: dict[str, subprocess.Popen]) -> None:
    # The coordinator first: workers stopping after it do not wait for drains of a whole cluster.
    first = [p for name, p in procs.items() if name == "coordinator"]
    rest = [p for name, p in procs.items() if name != "coordinator"]
    for batch in (first, rest):
        for proc in batch:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for proc in batch:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _read_port(proc: subprocess.Popen, log: Path, pattern: str, timeout: float) -> int:
    """Wait for the banner line with the bound port; the child's stdout goes to its log file."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise VarpulisError(f"process exited with {proc.returncode}; see {log} and {log.with_suffix('.err')}:\n"
                                f"{log.with_suffix('.err').read_text()[-2000:]}")
        text = log.read_text() if log.exists() else ""
        m = re.search(pattern, text)
        if m:
            return int(m.group(1))
        time.sleep(0.01)
    raise VarpulisError(f"no banner within {timeout} s; see {log}")


class LocalCluster:
    """A coordinator and ``workers`` worker processes of the native binary on free loopback ports.

    Logs of every process are kept in ``run_dir`` (a new temporary folder by default). Use as a
    context manager; every process it started is stopped on exit (or ``.stop()``).
    ``coordinator_args`` are more flags for ``varpulis coordinator`` (``["--busy-poll-us", "50"]``).
    File connectors of deployed programs write inside ``file_root`` (default: ``run_dir/files``).
    """

    def __init__(self, workers: int = 4, api_key: str = "admin", worker_key: str = "test", *,
                 heartbeat_interval: float = 0.5, heartbeat_timeout: float = 1.5,
                 run_dir: Optional[str] = None, binary: Optional[str] = None, start_timeout: float = 15,
                 coordinator_port: int = 0, mqtt_broker: Optional[str] = None, coordinator_args: Sequence[str] = (),
                 file_root: Optional[str] = None):
        self.binary = binary or find_binary()
        self.api_key, self.worker_key = api_key, worker_key
        self.run_dir = Path(run_dir or tempfile.mkdtemp(prefix="varpulis-cluster-"))
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._heartbeat = (heartbeat_interval, heartbeat_timeout)
        self._timeout = start_timeout
        self._coordinator_port = coordinator_port
        self._mqtt_broker = mqtt_broker
        self.file_root = Path(file_root) if file_root else self.run_dir / "files"  # where the workers' file connectors write
        self._coordinator_args = list(coordinator_args)  # more flags of `varpulis coordinator`, e.g. --busy-poll-us
        self._procs: dict[str, subprocess.Popen] = {}
        # Children run in their own session (Ctrl-C in a terminal does not reach them), so stop
        # them when this object is collected or the interpreter exits without stop().
        weakref.finalize(self, _stop_processes, self._procs)
        self._ports: dict[str, int] = {}
        try:
            self._start_coordinator()
            self.coordinator = CoordinatorClient(self.coordinator_url, api_key)
            for i in range(workers):
                self.start_worker(f"worker-{i}")
            self.wait_for_workers(workers)
        except BaseException:
            self.stop()
            raise

    @property
    def coordinator_url(self) -> str:
        return f"http://127.0.0.1:{self._ports['coordinator']}"

    @property
    def workers(self) -> dict[str, WorkerClient]:
        """The running workers, by id."""
        return {wid: WorkerClient(f"http://127.0.0.1:{port}", self.worker_key)
                for wid, port in self._ports.items() if wid != "coordinator" and self._procs[wid].poll() is None}

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen:
        out = open(self.run_dir / f"{name}.log", "w")
        err = open(self.run_dir / f"{name}.err", "w")
        proc = subprocess.Popen([self.binary, *args], stdout=out, stderr=err, start_new_session=True)
        out.close()
        err.close()
        self._procs[name] = proc
        return proc

    def _start_coordinator(self) -> None:
        interval, timeout = self._heartbeat
        proc = self._spawn("coordinator", ["coordinator", "--port", str(self._coordinator_port), "--api-key", self.api_key,
                                           "--heartbeat-interval", str(interval), "--heartbeat-timeout", str(timeout),
                                           *(["--mqtt-broker", self._mqtt_broker] if self._mqtt_broker else []),
                                           *self._coordinator_args])
        self._ports["coordinator"] = _read_port(proc, self.run_dir / "coordinator.log", r"127\.0\.0\.1:(\d+)/api", self._timeout)

    def start_worker(self, worker_id: str, port: int = 0) -> WorkerClient:
        """Start (or restart) a worker process; it registers with the coordinator."""
        proc = self._spawn(worker_id, ["server", "--port", str(port), "--api-key", self.worker_key,
                                       "--coordinator", self.coordinator_url, "--worker-id", worker_id,
                                       "--file-root", str(self.file_root)])
        self._ports[worker_id] = _read_port(proc, self.run_dir / f"{worker_id}.log", r"127\.0\.0\.1:(\d+)/api", self._timeout)
        return WorkerClient(f"http://127.0.0.1:{self._ports[worker_id]}", self.worker_key)

    def wait_for_workers(self, count: int, status: str = "ready", timeout: Optional[float] = None) -> list[dict[str, Any]]:
        """Poll until at least ``count`` workers have ``status``."""
        deadline = time.monotonic() + (timeout or self._timeout)
        while True:
            workers = [w for w in self.coordinator.workers()["workers"] if w["status"] == status]
            if len(workers) >= count:
                return workers
            if time.monotonic() > deadline:
                raise VarpulisError(f"only {len(workers)} of {count} workers are {status}")
            time.sleep(0.05)

    def kill_worker(self, worker_id: str) -> None:
        """Kill a worker process (SIGKILL): the coordinator notices through missing heartbeats."""
        proc = self._procs[worker_id]
        proc.kill()
        proc.wait(10)

    def stop_worker(self, worker_id: str, timeout: float = 30) -> int:
        """Stop a worker as Kubernetes does (SIGTERM): it drains, the coordinator moves its
        pipelines away with their state, and it exits. Returns its exit code."""
        proc = self._procs[worker_id]
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise VarpulisError(f"worker {worker_id} did not stop within {timeout} s of SIGTERM")

    def restart_worker(self, worker_id: str) -> WorkerClient:
        """Start a killed worker again on the same port."""
        return self.start_worker(worker_id, self._ports[worker_id])

    def stop(self) -> None:
        """Stop every process this cluster started (SIGTERM, then SIGKILL after 10 s)."""
        _stop_processes(self._procs)

    def __enter__(self) -> "LocalCluster":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


__all__ = ["ApiError", "Coordinator", "CoordinatorClient", "LocalCluster"]
