# SPDX-License-Identifier: Apache-2.0
"""Kill -9 during concurrent changes: every acknowledged pipeline (and group) comes back, nothing
acknowledged as deleted does, and no temporary file of an interrupted write stays behind."""

from __future__ import annotations

import http.client
import json
import random
import signal
import subprocess
import threading
import time

import pytest

from server_support import ServerProcess
from varpulis import ApiError, CoordinatorClient, WorkerClient

pytestmark = pytest.mark.integration

PROGRAM = "stream S{n} = Reading .where(value > {n}) .emit(v: value)"
CYCLES = 30
CLIENTS = 4


class Ledger:
    """What the server acknowledged, written by the client threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.deployed: set[str] = set()
        self.deleted: set[str] = set()
        self.deleting: set[str] = set()  # deletes sent: when unanswered, either outcome is right


def churn(url: str, key: str, ledger: Ledger, stop: threading.Event, seed: int) -> None:
    """Deploy (and now and then delete) until the server dies or `stop` is set; record only 2xx answers."""
    client = WorkerClient(url, key, timeout=5)
    rng = random.Random(seed)
    for n in range(10_000):
        if stop.is_set():
            return
        try:
            with ledger.lock:
                victims = sorted(ledger.deployed - ledger.deleted)
            if victims and rng.random() < 0.2:
                victim = rng.choice(victims)
                with ledger.lock:
                    ledger.deleting.add(victim)
                client.delete(victim)
                with ledger.lock:
                    ledger.deleted.add(victim)
            else:
                pid = client.deploy(f"p{seed}-{n}", PROGRAM.format(n=n))["id"]
                with ledger.lock:
                    ledger.deployed.add(pid)
        except ApiError as e:
            if e.status == 404:  # deleted by another client meanwhile
                continue
            raise AssertionError(f"a live server refused a change: {e}") from e
        except (OSError, http.client.HTTPException):
            return  # the server was killed mid-request: not acknowledged, not counted


def listed(client) -> set[str]:
    ids, offset = set(), 0
    while True:
        page = client.pipelines(limit=100, offset=offset)
        ids |= {p["id"] for p in page["pipelines"]}
        offset += 100
        if offset >= page["total"]:
            return ids


def test_acknowledged_pipelines_survive_kill_9_during_concurrent_changes(varpulis_bin, tmp_path):
    state = tmp_path / "state"
    ledger = Ledger()
    rng = random.Random(19)
    for cycle in range(CYCLES):
        server = ServerProcess(varpulis_bin, "--state-dir", str(state))
        try:
            client = server.client()
            present = listed(client)
            lost = ledger.deployed - ledger.deleting - present
            back = ledger.deleted & present
            assert not lost, f"cycle {cycle}: {len(lost)} acknowledged pipelines lost after kill -9"
            assert not back, f"cycle {cycle}: {len(back)} pipelines acknowledged as deleted came back"
            assert not list(state.glob(".pipelines.json.tmp-*")), "temporary files of interrupted writes stayed"
            stop = threading.Event()
            threads = [threading.Thread(target=churn, args=(server.url, server.key, ledger, stop, cycle * CLIENTS + i))
                       for i in range(CLIENTS)]
            for t in threads:
                t.start()
            time.sleep(rng.uniform(0.05, 0.4))  # let the clients race, then kill at a random moment
            server.proc.send_signal(signal.SIGKILL)
            stop.set()
            for t in threads:
                t.join(timeout=30)
                assert not t.is_alive(), "a client thread hung"
        finally:
            server.stop(timeout=5)
    assert len(ledger.deployed) > CYCLES * CLIENTS, "the clients hardly got anything acknowledged"


def start_coordinator(binary: str, port: int, state, run_dir) -> subprocess.Popen:
    log = open(run_dir / "coordinator.log", "a")
    proc = subprocess.Popen([binary, "coordinator", "--port", str(port), "--api-key", "admin", "--state-dir", str(state),
                             "--heartbeat-interval", "0.2", "--heartbeat-timeout", "1"],
                            stdout=log, stderr=subprocess.STDOUT)
    log.close()
    return proc


def test_acknowledged_groups_survive_coordinator_kill_9(varpulis_bin, tmp_path, free_port, wait_until):
    state, port = tmp_path / "coord", free_port()
    url = f"http://127.0.0.1:{port}"
    coordinator = start_coordinator(varpulis_bin, port, state, tmp_path)
    worker = ServerProcess(varpulis_bin, "--coordinator", url, "--worker-id", "w1")
    acknowledged: set[str] = set()
    interrupted: set = set()  # temp files left by the last kill -9
    try:
        for cycle in range(10):
            admin = CoordinatorClient(url, "admin", timeout=5)
            wait_until(lambda: _ready_workers(admin) >= 1, timeout=20, what="the worker to be ready")
            names = {g["name"] for g in admin.groups()["groups"]}
            assert acknowledged <= names, f"cycle {cycle}: groups lost after kill -9: {acknowledged - names}"
            # A live write has a temp file of its own for a moment (unique names): only the ones the
            # kill interrupted must be gone once the restarted coordinator has loaded its state.
            assert not interrupted & set(state.glob(".coordinator.json.tmp-*")), "temporary files of interrupted writes stayed"
            deadline = time.monotonic() + random.uniform(0.1, 0.5)
            n = 0
            while time.monotonic() < deadline and n < 5:  # the worker runs at most 100 pipelines
                name = f"g{cycle}-{n}"
                admin.deploy_group(name, [{"name": "p", "source": PROGRAM.format(n=n)}])
                acknowledged.add(name)
                n += 1
            coordinator.send_signal(signal.SIGKILL)
            coordinator.wait(timeout=10)
            interrupted = set(state.glob(".coordinator.json.tmp-*"))
            coordinator = start_coordinator(varpulis_bin, port, state, tmp_path)
    finally:
        coordinator.kill()
        coordinator.wait(timeout=10)
        worker.stop(timeout=5)
    assert len(acknowledged) >= 10


def _ready_workers(admin) -> int:
    try:
        return sum(1 for w in admin.workers()["workers"] if w["status"] == "ready")
    except (ApiError, OSError):
        return 0


def test_an_idle_file_sink_has_its_outputs_in_the_file_and_kill_9_keeps_them(varpulis_bin, tmp_path, wait_until):
    # Before, the tail of the output stayed in the sink's buffer while the pipeline was idle.
    server = ServerProcess(varpulis_bin, "--file-root", str(tmp_path))
    try:
        c = server.client()
        pid = c.deploy("f", 'connector Out = file(path: "out.jsonl")\nstream S = Reading .emit(v: v) .to(Out)')["id"]
        for v in range(3):
            c.inject(pid, "Reading", {"v": v})
        out = tmp_path / "out.jsonl"
        wait_until(lambda: out.exists() and out.read_text().count("\n") == 3, timeout=5, what="the idle sink's lines in the file")
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait(timeout=10)
        assert [json.loads(line)["v"] for line in out.read_text().splitlines()] == [0, 1, 2]
    finally:
        server.stop(timeout=5)
