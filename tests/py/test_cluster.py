# SPDX-License-Identifier: Apache-2.0
"""Cluster mode with real processes: the tutorial (Parts 2-9), failover, recovery, security."""

from __future__ import annotations

import json
import os
import re
import socket
import ssl
import subprocess
import sys
import threading
import time

import pytest

from conftest import StandIn, serving
from conftest import _wait_until as wait_until
from varpulis import ApiError, CoordinatorClient, LocalCluster, WorkerClient

pytestmark = [pytest.mark.integration]

PIPELINE_A = 'stream A = EventA .emit(result: "from-a")'
PIPELINE_B = 'stream B = EventB .emit(result: "from-b")'
ROUTES = [
    {"from_pipeline": "_external", "to_pipeline": "pipeline-a", "event_types": ["EventA*"]},
    {"from_pipeline": "_external", "to_pipeline": "pipeline-b", "event_types": ["EventB*"]},
]


def run_in_threads(count: int, work) -> None:
    """Run ``work(thread)`` on ``count`` threads at once; the first exception any raised fails the test."""
    failures: list[BaseException] = []

    def guarded(thread: int) -> None:
        try:
            work(thread)
        except BaseException as e:  # noqa: BLE001 - reported below
            failures.append(e)

    threads = [threading.Thread(target=guarded, args=(t,)) for t in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures[0]


@pytest.fixture
def cluster(tmp_path):
    with LocalCluster(workers=2, run_dir=str(tmp_path / "run")) as c:
        yield c


def test_tutorial_parts_2_to_7(cluster):
    c = cluster.coordinator
    assert c.health() == {"role": "coordinator", "status": "healthy", "version": c.health()["version"]}
    # Part 3: workers registered
    workers = c.workers()
    assert workers["total"] == 2
    assert workers["workers"][0] == {"id": "worker-0", "address": workers["workers"][0]["address"], "status": "ready",
                                     "pipelines_running": 0, "max_pipelines": 100, "assigned_pipelines": [],
                                     "events_processed": 0}
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", workers["workers"][0]["address"])
    # Part 4: deploy with affinity
    group = c.deploy_group("my-first-group", [
        {"name": "pipeline-a", "source": PIPELINE_A, "worker_affinity": "worker-0"},
        {"name": "pipeline-b", "source": PIPELINE_B, "worker_affinity": "worker-1"},
    ], ROUTES)
    assert group["name"] == "my-first-group" and group["status"] == "running" and group["pipeline_count"] == 2
    assert [(p["pipeline_name"], p["worker_id"], p["status"]) for p in group["placements"]] == [
        ("pipeline-a", "worker-0", "running"), ("pipeline-b", "worker-1", "running")]
    gid = group["id"]
    # Part 5: routing
    assert c.inject(gid, "EventA", {"x": 42}) == {
        "routed_to": "pipeline-a", "worker_id": "worker-0",
        "worker_response": {"accepted": True, "output_events": [{"event_type": "A", "result": "from-a"}]}}
    # EventB_foo goes to pipeline-b, whose stream consumes EventB exactly: accepted, no output.
    assert c.inject(gid, "EventB_foo", {"y": 99}) == {
        "routed_to": "pipeline-b", "worker_id": "worker-1",
        "worker_response": {"accepted": True, "output_events": []}}
    assert c.inject(gid, "EventB", {"y": 99})["worker_response"]["output_events"] == [{"event_type": "B", "result": "from-b"}]
    assert c.inject(gid, "Unrouted", {})["routed_to"] == "pipeline-a"  # no match: the first pipeline
    topology = c.topology()["groups"][0]
    assert topology["group_id"] == gid and topology["group_name"] == "my-first-group"
    assert [(p["name"], p["worker_id"]) for p in topology["pipelines"]] == [("pipeline-a", "worker-0"), ("pipeline-b", "worker-1")]
    assert topology["routes"] == ROUTES
    # Part 6: worker details
    w0 = c.worker("worker-0")
    assert (w0["status"], w0["pipelines_running"], w0["assigned_pipelines"]) == ("ready", 1, ["pipeline-a"])
    # Part 7: teardown and deregistration
    assert c.teardown(gid) == {"torn_down": True}
    assert cluster.workers["worker-0"].pipelines()["total"] == 0
    assert c.deregister("worker-1") == {"deleted": True}
    assert [w["id"] for w in c.workers()["workers"]] == ["worker-0"]
    # the deregistered worker keeps running but stops heartbeating, quietly
    err = cluster.run_dir / "worker-1.err"
    wait_until(lambda: "deregistered" in err.read_text(), what="the worker to log its deregistration")
    assert cluster.workers["worker-1"].health()["status"] == "healthy"


def test_part_8_round_robin_placement(cluster):
    group = cluster.coordinator.deploy_group("rr", [{"name": f"p{i}", "source": PIPELINE_A} for i in range(1, 5)])
    assert [p["worker_id"] for p in group["placements"]] == ["worker-0", "worker-1", "worker-0", "worker-1"]
    least = cluster.coordinator.deploy_group("ll", [{"name": "q", "source": PIPELINE_A}], placement="least_loaded")
    assert least["placements"][0]["worker_id"] == "worker-0"


def test_part_9_iot_monitoring(tmp_path):
    with LocalCluster(workers=0, run_dir=str(tmp_path)) as cluster:
        cluster.start_worker("temp-worker")
        cluster.start_worker("pressure-worker")
        cluster.wait_for_workers(2)
        c = cluster.coordinator
        group = c.deploy_group("iot-monitoring", [
            {"name": "temp-alerts", "worker_affinity": "temp-worker",
             "source": 'stream TempAlerts = TemperatureReading .where(temperature > 100) .emit(alert_type: "HIGH_TEMP", sensor_id: sensor_id, temperature: temperature)'},
            {"name": "pressure-alerts", "worker_affinity": "pressure-worker",
             "source": 'stream PressureAlerts = PressureReading .where(pressure > 200) .emit(alert_type: "HIGH_PRESSURE", sensor_id: sensor_id, pressure: pressure)'},
        ], [{"from_pipeline": "_external", "to_pipeline": "temp-alerts", "event_types": ["Temperature*"]},
            {"from_pipeline": "_external", "to_pipeline": "pressure-alerts", "event_types": ["Pressure*"]}])
        gid = group["id"]
        assert c.inject(gid, "TemperatureReading", {"sensor_id": "T1", "temperature": 105.5}) == {
            "routed_to": "temp-alerts", "worker_id": "temp-worker",
            "worker_response": {"accepted": True, "output_events": [
                {"event_type": "TempAlerts", "alert_type": "HIGH_TEMP", "sensor_id": "T1", "temperature": 105.5}]}}
        out = c.inject(gid, "PressureReading", {"sensor_id": "P1", "pressure": 250.0})
        assert out["worker_id"] == "pressure-worker"
        assert out["worker_response"]["output_events"][0]["alert_type"] == "HIGH_PRESSURE"
        assert [(p["name"], p["worker_id"]) for p in c.topology()["groups"][0]["pipelines"]] == [
            ("temp-alerts", "temp-worker"), ("pressure-alerts", "pressure-worker")]
        batch = c.inject_batch(gid, [{"event_type": "TemperatureReading", "fields": {"temperature": 101}},
                                     {"event_type": "PressureReading", "fields": {"pressure": 300}},
                                     {"event_type": "TemperatureReading", "fields": {"temperature": 1}}])
        assert batch["accepted"] == 3 and len(batch["results"]) == 2


def test_killed_worker_turns_unhealthy_fails_over_and_recovers(cluster):
    c = cluster.coordinator
    gid = c.deploy_group("g", [{"name": "pipeline-a", "source": PIPELINE_A, "worker_affinity": "worker-0"},
                               {"name": "pipeline-b", "source": PIPELINE_B, "worker_affinity": "worker-1"}], ROUTES)["id"]
    cluster.kill_worker("worker-1")
    wait_until(lambda: c.worker("worker-1")["status"] == "unhealthy", timeout=5, what="worker-1 unhealthy")
    # its pipeline moved to worker-0 and injects are still answered
    wait_until(lambda: c.group(gid)["placements"][1]["worker_id"] == "worker-0", timeout=5, what="failover")
    placement = c.group(gid)["placements"][1]
    assert placement["epoch"] == 2
    assert c.inject(gid, "EventB", {})["worker_response"]["output_events"] == [{"event_type": "B", "result": "from-b"}]
    cluster.restart_worker("worker-1")
    wait_until(lambda: c.worker("worker-1")["status"] == "ready", timeout=5, what="worker-1 ready again")
    # pipeline-b returns to its worker_affinity (rebalance, on by default); the topology matches
    # what the workers actually run
    wait_until(lambda: c.group(gid)["placements"][1]["worker_id"] == "worker-1", timeout=5, what="pipeline-b back on worker-1")
    running = {wid: [p["name"] for p in w.pipelines()["pipelines"]] for wid, w in cluster.workers.items()}
    assert running["worker-0"] == ["pipeline-a"] and running["worker-1"] == ["pipeline-b"]
    metrics = c.request("GET", "/metrics", raw=True)
    assert 'varpulis_cluster_workers{status="ready"} 2' in metrics
    assert "varpulis_cluster_failovers_total 1" in metrics


def test_drain_moves_pipelines_away(cluster):
    c = cluster.coordinator
    gid = c.deploy_group("g", [{"name": "p", "source": PIPELINE_A, "worker_affinity": "worker-0"}])["id"]
    out = c.drain("worker-0")
    assert out["status"] == "draining"
    assert c.worker("worker-0")["status"] == "draining"
    assert c.group(gid)["placements"][0]["worker_id"] == "worker-1"
    assert c.inject(gid, "EventA", {})["worker_id"] == "worker-1"


def test_invalid_vpl_in_a_group_deploys_nothing(cluster):
    c = cluster.coordinator
    with pytest.raises(ApiError) as err:
        c.deploy_group("bad", [{"name": "ok", "source": PIPELINE_A}, {"name": "broken", "source": "stream X = A .where(x > )"}])
    assert (err.value.status, err.value.code) == (400, "parse_error")
    assert "pipeline 'broken': 1:25" in err.value.message
    assert c.groups()["total"] == 0
    assert all(w.pipelines()["total"] == 0 for w in cluster.workers.values())


def test_a_misspelt_worker_affinity_is_a_deploy_error_not_a_silent_round_robin(cluster):
    c = cluster.coordinator
    with pytest.raises(ApiError) as err:
        c.deploy_group("g", [{"name": "pipeline-a", "source": PIPELINE_A, "worker_affinity": "wrker-0"}])
    assert (err.value.status, err.value.code) == (400, "unknown_worker_affinity")
    assert "'wrker-0' names no worker this coordinator knows (workers: worker-0, worker-1)" in str(err.value)
    assert c.request("GET", "/api/v1/cluster/pipeline-groups")["total"] == 0


def test_no_workers_available(tmp_path):
    with LocalCluster(workers=0, run_dir=str(tmp_path)) as cluster:
        with pytest.raises(ApiError) as err:
            cluster.coordinator.deploy_group("g", [{"name": "p", "source": PIPELINE_A}])
        assert (err.value.status, err.value.code) == (503, "no_workers_available")


def test_wrong_keys_and_spoofed_heartbeats(cluster):
    for key in (None, "wrong"):
        with pytest.raises(ApiError) as err:
            CoordinatorClient(cluster.coordinator_url, key).workers()
        assert err.value.status == 401
    raw = CoordinatorClient(cluster.coordinator_url, None)
    with pytest.raises(ApiError) as err:
        raw.request("POST", "/api/v1/cluster/workers/worker-0/heartbeat", {"events_processed": 1})
    assert (err.value.status, err.value.code) == (401, "invalid_worker_token")
    with pytest.raises(ApiError) as err:
        raw.request("POST", "/api/v1/cluster/workers/nobody/heartbeat", {})
    assert (err.value.status, err.value.code) == (404, "worker_not_found")
    for probe in ("/health", "/ready", "/metrics"):  # GET only, like the worker's
        with pytest.raises(ApiError) as err:
            raw.request("POST", probe, {})
        assert (err.value.status, err.value.code) == (405, "method_not_allowed"), probe


def test_join_token(varpulis_bin, tmp_path):
    coord = subprocess.Popen([varpulis_bin, "coordinator", "--port", "0", "--api-key", "admin", "--join-token", "s3cret"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = int(re.search(r":(\d+)/api", coord.stdout.readline() + coord.stdout.readline() + coord.stdout.readline()).group(1))
        c = CoordinatorClient(f"http://127.0.0.1:{port}", "admin")
        raw = CoordinatorClient(f"http://127.0.0.1:{port}", None)
        with pytest.raises(ApiError) as err:
            raw.request("POST", "/api/v1/cluster/workers/register", {"worker_id": "w", "address": "http://127.0.0.1:1"})
        assert (err.value.status, err.value.code) == (401, "invalid_join_token")
        ok = raw.request("POST", "/api/v1/cluster/workers/register",
                         {"worker_id": "w", "address": "http://127.0.0.1:1", "join_token": "s3cret"})
        assert ok["status"] == "registered" and ok["heartbeat_token"]
        assert "s3cret" not in json.dumps(c.workers())
    finally:
        stop_processes(coord)


def stop_processes(*procs):
    """SIGTERM each process and wait for it (reading what it wrote)."""
    for proc in procs:
        proc.terminate()
        proc.communicate(timeout=10)


def start_fast_coordinator(varpulis_bin, port, *extra):
    """A coordinator process with short heartbeats; returns it and its port (from its banner)."""
    proc = subprocess.Popen([varpulis_bin, "coordinator", "--port", str(port), "--api-key", "admin", *extra,
                             "--heartbeat-interval", "0.3", "--heartbeat-timeout", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    text = "".join(proc.stdout.readline() for _ in range(3))
    return proc, int(re.search(r":(\d+)/api", text).group(1))


def test_coordinator_restart_with_state_dir_keeps_groups(tmp_path, varpulis_bin):
    state = tmp_path / "state"

    def start_coordinator(port=0):
        return start_fast_coordinator(varpulis_bin, port, "--state-dir", str(state))

    coord, port = start_coordinator()
    worker = subprocess.Popen([varpulis_bin, "server", "--port", "0", "--api-key", "test", "--coordinator", f"http://127.0.0.1:{port}",
                               "--worker-id", "w0"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        c = CoordinatorClient(f"http://127.0.0.1:{port}", "admin")
        wait_until(lambda: c.workers()["total"] == 1, what="registration")
        gid = c.deploy_group("g", [{"name": "p", "source": PIPELINE_A}])["id"]
        stop_processes(coord)
        coord, port2 = start_coordinator(port)
        assert port2 == port
        # the worker registers again and the group is still routed, with no duplicate pipeline
        wait_until(lambda: c.workers()["workers"] and c.workers()["workers"][0]["status"] == "ready", what="re-registration")
        assert c.inject(gid, "EventA", {})["worker_response"]["output_events"] == [{"event_type": "A", "result": "from-a"}]
        assert c.group(gid)["placements"][0]["worker_id"] == "w0"
    finally:
        stop_processes(worker, coord)


@pytest.mark.parametrize("busy_poll_us", [0, 100])
def test_in_process_coordinator_with_worker_processes(varpulis_bin, busy_poll_us):
    import varpulis

    with pytest.raises(ValueError, match="busy_poll_us"):
        varpulis.Coordinator(busy_poll_us=-1)
    with varpulis.Coordinator(api_key="admin", heartbeat_interval=0.3, heartbeat_timeout=1.0, busy_poll_us=busy_poll_us) as coordinator:
        c = coordinator.client()
        assert c.health()["role"] == "coordinator"
        worker = subprocess.Popen([varpulis_bin, "server", "--port", "0", "--api-key", "test", "--coordinator", coordinator.url,
                                   "--worker-id", "w0"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_until(lambda: c.workers()["total"] == 1, what="registration")
            gid = c.deploy_group("g", [{"name": "p", "source": PIPELINE_A}])["id"]
            assert c.inject(gid, "EventA", {})["worker_response"]["output_events"] == [{"event_type": "A", "result": "from-a"}]
        finally:
            stop_processes(worker)


def test_chaos_kills_and_restarts_while_injecting(tmp_path):
    """30 s of random worker kills and restarts while injecting; afterwards the topology is what
    the workers really run."""
    import random

    rng = random.Random(7)
    with LocalCluster(workers=3, run_dir=str(tmp_path)) as cluster:
        c = cluster.coordinator
        gid = c.deploy_group("chaos", [{"name": f"p{i}", "source": f'stream S{i} = E{i} .emit(n: n)'} for i in range(3)],
                             [{"from_pipeline": "_external", "to_pipeline": f"p{i}", "event_types": [f"E{i}"]} for i in range(3)])["id"]
        deadline = time.monotonic() + 30
        answered = errors = 0
        dead: set[str] = set()
        while time.monotonic() < deadline:
            if rng.random() < 0.05:
                wid = f"worker-{rng.randrange(3)}"
                if wid in dead:
                    cluster.restart_worker(wid)
                    dead.discard(wid)
                elif len(dead) < 2:
                    cluster.kill_worker(wid)
                    dead.add(wid)
            try:
                c.inject(gid, f"E{rng.randrange(3)}", {"n": 1})
                answered += 1
            except ApiError:
                errors += 1  # a pipeline on a dead worker, before failover: reported, never lost silently
            time.sleep(0.01)
        for wid in list(dead):
            cluster.restart_worker(wid)
        cluster.wait_for_workers(3)
        # let sweeps settle: every placement on a ready worker, stale copies removed
        def consistent():
            placements = {p["pipeline_name"]: (p["worker_id"], p["pipeline_id"]) for p in c.group(gid)["placements"]}
            actual = {}
            for wid, w in cluster.workers.items():
                for p in w.pipelines()["pipelines"]:
                    actual.setdefault(p["name"], []).append((wid, p["id"]))
            return all(actual.get(name) == [placed] for name, placed in placements.items())
        wait_until(consistent, timeout=15, what="topology consistent with the workers")
        assert answered > 100
        for i in range(3):
            assert c.inject(gid, f"E{i}", {"n": 2})["worker_response"]["output_events"] == [{"event_type": f"S{i}", "n": 2}]


def test_coordinator_restart_without_state_dir_forgets_and_workers_come_back(tmp_path, varpulis_bin):
    def start_coordinator(port=0):
        return start_fast_coordinator(varpulis_bin, port)

    coord, port = start_coordinator()
    worker = subprocess.Popen([varpulis_bin, "server", "--port", "0", "--api-key", "test", "--coordinator", f"http://127.0.0.1:{port}",
                               "--worker-id", "w0"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        c = CoordinatorClient(f"http://127.0.0.1:{port}", "admin")
        wait_until(lambda: c.workers()["total"] == 1, what="registration")
        c.deploy_group("g", [{"name": "p", "source": PIPELINE_A}])
        stop_processes(coord)
        coord, _ = start_coordinator(port)
        # in memory only: the groups are gone, the worker registers again by itself
        assert c.groups()["total"] == 0
        wait_until(lambda: c.workers()["total"] == 1 and c.workers()["workers"][0]["status"] == "ready", what="re-registration")
    finally:
        stop_processes(worker, coord)


def test_local_cluster_stops_its_processes_when_the_script_forgets_to(tmp_path):
    script = ("import sys, varpulis\n"
              f"c = varpulis.LocalCluster(workers=1, run_dir={str(tmp_path)!r})\n"
              "print(' '.join(str(p.pid) for p in c._procs.values()), flush=True)\n"
              "sys.exit(0)  # no stop(), no with-block\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    pids = [int(p) for p in out.stdout.split()]
    assert len(pids) == 2
    for pid in pids:
        wait_until(lambda: not os.path.exists(f"/proc/{pid}") or "Z" in open(f"/proc/{pid}/stat").read().split()[2],
                   timeout=10, what=f"process {pid} gone")


def test_a_worker_gone_for_longer_than_the_expiry_is_forgotten_unless_it_still_holds_pipelines(varpulis_bin):
    coord, port = start_fast_coordinator(varpulis_bin, 0, "--worker-expiry", "1.5")
    url = f"http://127.0.0.1:{port}"
    workers = {wid: subprocess.Popen([varpulis_bin, "server", "--port", "0", "--api-key", "test", "--coordinator", url,
                                      "--worker-id", wid], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
               for wid in ("idle", "busy")}
    try:
        c = CoordinatorClient(url, "admin")
        wait_until(lambda: c.workers()["total"] == 2, what="registration")
        c.deploy_group("g", [{"name": "p", "source": PIPELINE_A, "worker_affinity": "busy"}])
        for proc in workers.values():
            proc.kill()
            proc.wait(10)
        # "idle" runs nothing and is forgotten; "busy" keeps its pipeline (no worker to move it to).
        wait_until(lambda: [w["id"] for w in c.workers()["workers"]] == ["busy"], timeout=15, what="expiry")
        assert c.worker("busy")["status"] == "unhealthy"
        with pytest.raises(ApiError) as gone:
            c.worker("idle")
        assert gone.value.status == 404
    finally:
        for proc in workers.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        stop_processes(coord)


def test_a_dead_workers_injects_are_held_and_answered_by_its_pipelines_new_placement(tmp_path):
    # A heartbeat timeout of 60 s: only the refused connection can tell the coordinator. It probes
    # the worker at once, fails its pipeline over, and sends the held injects there: the client
    # sees latency, not the 502 it got until the heartbeat timeout before.
    with LocalCluster(workers=2, run_dir=str(tmp_path), heartbeat_interval=1, heartbeat_timeout=60) as cluster:
        c = cluster.coordinator
        gid = c.deploy_group("g", [{"name": "pipeline-a", "source": PIPELINE_A, "worker_affinity": "worker-0"},
                                   {"name": "pipeline-b", "source": PIPELINE_B, "worker_affinity": "worker-1"}], ROUTES)["id"]
        assert c.inject(gid, "EventB", {})["worker_id"] == "worker-1"  # a kept-alive connection to worker-1 now exists
        cluster.kill_worker("worker-1")
        started = time.monotonic()
        answer = c.inject(gid, "EventB", {})
        failover_seconds = time.monotonic() - started
        assert answer["worker_id"] == "worker-0"
        assert answer["worker_response"]["output_events"] == [{"event_type": "B", "result": "from-b"}]
        assert failover_seconds < 3, f"the failover took {failover_seconds:.2f} s"
        assert c.worker("worker-1")["status"] == "unhealthy"
        batch = c.inject_batch(gid, [{"event_type": "EventA", "fields": {}}, {"event_type": "EventB", "fields": {}},
                                     {"event_type": "EventA", "fields": {}}, {"event_type": "Other", "fields": {}}])
        assert batch["accepted"] == 4 and all(r["status"] == 200 for r in batch["results"])
        metrics = c.request("GET", "/metrics", raw=True)
        assert "varpulis_cluster_workers_found_gone_total 1" in metrics
        assert re.search(r"^varpulis_cluster_injects_held_total [1-9]", metrics, re.M)
        assert re.search(r"^varpulis_cluster_injects_rerouted_total [1-9]", metrics, re.M)
        assert "varpulis_cluster_injects_given_up_total 0" in metrics


def test_a_held_inject_is_answered_502_once_its_hold_passes_with_nowhere_to_move(tmp_path):
    # One worker: its pipelines have nowhere to go, so the held inject ends as the 502 it was.
    with LocalCluster(workers=1, run_dir=str(tmp_path), heartbeat_interval=1, heartbeat_timeout=60,
                      coordinator_args=["--inject-hold", "1"]) as cluster:
        c = cluster.coordinator
        gid = c.deploy_group("g", [{"name": "pipeline-a", "source": PIPELINE_A}], [])["id"]
        cluster.kill_worker("worker-0")
        started = time.monotonic()
        with pytest.raises(ApiError) as err:
            c.inject(gid, "EventA", {})
        held = time.monotonic() - started
        assert err.value.status == 502 and err.value.code == "worker_unreachable" and "worker-0" in str(err.value)
        assert 0.9 < held < 5, held
        metrics = c.request("GET", "/metrics", raw=True)
        assert "varpulis_cluster_injects_given_up_total 1" in metrics
        assert c.health()["status"] == "healthy"


def test_concurrent_injects_through_the_coordinator_lose_nothing(cluster):
    c = cluster.coordinator
    gid = c.deploy_group("g", [{"name": "pipeline-a", "source": PIPELINE_A, "worker_affinity": "worker-0"},
                               {"name": "pipeline-b", "source": PIPELINE_B, "worker_affinity": "worker-1"}], ROUTES)["id"]
    answers: list[str] = []

    def send(thread: int) -> None:
        client = CoordinatorClient(cluster.coordinator_url, "admin")
        for i in range(100):
            kind = "EventA" if (thread + i) % 2 else "EventB"
            out = client.inject(gid, kind, {"n": i})
            answers.append(out["worker_response"]["output_events"][0]["result"])

    run_in_threads(8, send)
    assert sorted(answers) == sorted(["from-a"] * 400 + ["from-b"] * 400)
    placements = {p["pipeline_name"]: p for p in c.group(gid)["placements"]}
    for name, worker in (("pipeline-a", "worker-0"), ("pipeline-b", "worker-1")):
        metrics = cluster.workers[worker].metrics(placements[name]["pipeline_id"])
        assert metrics["events_processed"] == 400, metrics


def test_concurrent_injects_go_to_the_worker_in_groups_and_each_gets_its_own_answer(tmp_path):
    import urllib.request
    with LocalCluster(workers=1, run_dir=str(tmp_path)) as cluster:
        group = cluster.coordinator.deploy_group("g", [{"name": "p", "source": "stream Echo = Reading .emit(n: n)"}])
        mismatches: list[tuple[int, object]] = []

        def send(thread: int) -> None:
            client = CoordinatorClient(cluster.coordinator_url, "admin")
            for i in range(150):
                n = thread * 1000 + i
                out = client.inject(group["id"], "Reading", {"n": n})
                got = out["worker_response"]["output_events"]
                if got != [{"event_type": "Echo", "n": n}]:
                    mismatches.append((n, got))

        run_in_threads(16, send)
        assert not mismatches, mismatches[:3]
        metrics = urllib.request.urlopen(group["placements"][0]["worker_address"] + "/metrics", timeout=10).read().decode()
        events = sum(int(n) for n in re.findall(r'varpulis_events_total\{[^}]*\} (\d+)', metrics))
        requests = sum(int(n) for n in re.findall(r'varpulis_http_requests_total\{status="200"\} (\d+)', metrics))
        assert events == 16 * 150
        # Injects that met one in flight went together, as events-each requests.
        assert requests < events, (requests, events)


def test_a_busy_polling_coordinator_routes_and_still_sleeps_when_idle(tmp_path):
    with LocalCluster(workers=1, run_dir=str(tmp_path), coordinator_args=["--busy-poll-us", "200"]) as cluster:
        group = cluster.coordinator.deploy_group("g", [{"name": "p", "source": "stream Echo = Reading .emit(n: n)"}])
        for n in range(200):
            out = cluster.coordinator.inject(group["id"], "Reading", {"n": n})
            assert out["worker_response"]["output_events"] == [{"event_type": "Echo", "n": n}]
        stat = f"/proc/{cluster._procs['coordinator'].pid}/stat"

        def cpu() -> float:
            with open(stat) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

        before, start = cpu(), time.monotonic()
        time.sleep(1.0)
        # Idle but for heartbeats: it polls for 200 µs after each, then sleeps (a loop that never
        # slept would use the whole second).
        assert (cpu() - before) / (time.monotonic() - start) < 0.3


def test_busy_poll_takes_a_number_of_microseconds(run_cli):
    for bad in ("-1", "fast", "2000000", "50us", "1.5", ""):
        result = run_cli("coordinator", "--port", "0", "--busy-poll-us", bad, timeout=10)
        assert result.returncode == 2, (bad, result.stderr)
        assert "--busy-poll-us" in result.stderr, result.stderr


def test_routes_that_join_again_without_a_cycle_deploy(tmp_path):
    with LocalCluster(workers=1, run_dir=str(tmp_path)) as cluster:
        names = ["a", "b", "c", "d"]
        routes = [{"from_pipeline": f, "to_pipeline": t, "event_types": ["*"]} for f, t in (("a", "b"), ("a", "c"), ("b", "d"), ("c", "d"))]
        group = cluster.coordinator.deploy_group("diamond", [{"name": n, "source": "stream S = A .emit(v: 1)"} for n in names], routes)
        assert len(group["placements"]) == 4


def start_worker_process(varpulis_bin, coordinator_url, worker_id, *extra):
    """A worker process registering with `coordinator_url`; returns it and its port (from its banner)."""
    proc = subprocess.Popen([varpulis_bin, "server", "--port", "0", "--api-key", "test", "--coordinator", coordinator_url,
                             "--worker-id", worker_id, *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    text = "".join(proc.stdout.readline() for _ in range(3))
    return proc, int(re.search(r":(\d+)/api", text).group(1))


def test_a_worker_on_ipv6_loopback_is_reached_through_its_bracketed_address(varpulis_bin):
    import varpulis

    probe = socket.socket(socket.AF_INET6)
    try:
        probe.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback")
    finally:
        probe.close()
    with varpulis.Coordinator(api_key="admin", heartbeat_interval=0.3, heartbeat_timeout=1.0) as coordinator:
        c = coordinator.client()
        worker, port = start_worker_process(varpulis_bin, coordinator.url, "v6", "--bind", "::1")
        try:
            wait_until(lambda: c.workers()["total"] == 1, what="registration")
            assert c.workers()["workers"][0]["address"] == f"http://[::1]:{port}"
            gid = c.deploy_group("g", [{"name": "p", "source": PIPELINE_A}])["id"]
            assert c.inject(gid, "EventA", {})["worker_response"]["output_events"] == [{"event_type": "A", "result": "from-a"}]
            assert c.inject_batch(gid, [{"event_type": "EventA", "fields": {}}] * 2)["accepted"] == 2
        finally:
            stop_processes(worker)


def test_a_cluster_over_tls(varpulis_bin, tmp_path):
    from conftest import make_tls_files
    tls = make_tls_files(tmp_path)
    cert = ["--tls-cert", tls["server.crt"], "--tls-key", tls["server.key"]]
    coord, port = start_fast_coordinator(varpulis_bin, 0, *cert, "--tls-ca", tls["ca.crt"])
    url = f"https://127.0.0.1:{port}"
    trusting, trusting_port = start_worker_process(varpulis_bin, url, "trusting", *cert, "--tls-ca", tls["ca.crt"])
    # This one trusts only the system's certificates: it cannot verify the coordinator's.
    wary, wary_port = start_worker_process(varpulis_bin, url, "wary", *cert)
    try:
        c = CoordinatorClient(url, "admin", ca_file=tls["ca.crt"])
        wait_until(lambda: [w["id"] for w in c.workers()["workers"]] == ["trusting"], what="the trusting worker registered")
        assert c.workers()["workers"][0]["address"] == f"https://127.0.0.1:{trusting_port}"
        group = c.deploy_group("tls", [{"name": "pipeline-a", "source": PIPELINE_A}])
        out = c.inject(group["id"], "EventA", {})
        assert out["worker_id"] == "trusting" and out["worker_response"]["output_events"] == [{"event_type": "A", "result": "from-a"}]
        assert c.inject_batch(group["id"], [{"event_type": "EventA", "fields": {}}] * 3)["accepted"] == 3
        with pytest.raises(ssl.SSLCertVerificationError):
            CoordinatorClient(url, "admin").health()  # a client without the CA refuses the coordinator
        wary_client = WorkerClient(f"https://127.0.0.1:{wary_port}", "test", ca_file=tls["ca.crt"])
        with pytest.raises(ApiError) as not_ready:
            wary_client.request("GET", "/ready")
        assert not_ready.value.status == 503
    finally:
        stop_processes(trusting)
        wary.terminate()
        _, wary_err = wary.communicate(timeout=10)
        stop_processes(coord)
    assert "certificate verify failed" in wary_err


def test_an_inject_whose_answer_breaks_off_is_not_sent_again(varpulis_bin):
    # A worker stand-in: deploys succeed; the first inject is answered, the second is cut off half
    # way through its answer. A kept-alive connection that fails after the worker took the request
    # must not carry it again (the worker would process it twice).
    injects = []

    class Worker(StandIn):
        def do_POST(self):  # noqa: N802 - the stdlib's name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.path == "/api/v1/pipelines":
                return self.answer(201, b'{"id": "p1", "name": "p", "status": "running"}')
            injects.append(body)
            if len(injects) == 1:
                return self.answer(200, b'{"accepted": true, "output_events": []}')
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            self.wfile.write(b'{"accepted": tr')
            self.wfile.flush()
            self.close_connection = True

        def do_GET(self):  # noqa: N802
            self.answer(200, b'{"pipelines": [], "total": 0}')

    with serving(Worker) as fake:
        coord, port = start_fast_coordinator(varpulis_bin, 0, "--heartbeat-timeout", "60")
        try:
            c = CoordinatorClient(f"http://127.0.0.1:{port}", "admin")
            c.request("POST", "/api/v1/cluster/workers/register", {"worker_id": "fake", "address": f"http://127.0.0.1:{fake.server_port}"})
            gid = c.deploy_group("g", [{"name": "p", "source": PIPELINE_A}])["id"]
            assert c.inject(gid, "EventA", {"n": 1})["worker_response"] == {"accepted": True, "output_events": []}
            with pytest.raises(ApiError) as broken:
                c.inject(gid, "EventA", {"n": 2})
            assert broken.value.status == 502
            assert len(injects) == 2, injects
        finally:
            stop_processes(coord)
