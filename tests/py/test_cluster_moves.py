"""Pipelines moving with their state (issue "faults without loss"): drains (the API and SIGTERM),
failover from the coordinator's periodic checkpoints, the return to a worker_affinity, orphans a
crash leaves, and a rolling restart under load with no error answer. Real processes throughout."""
from __future__ import annotations

import re
import threading
import time

import pytest

from conftest import _wait_until as wait_until
from varpulis import LocalCluster

pytestmark = [pytest.mark.integration]

# A count window: its output shows whether the events before a move were kept.
WINDOW = "stream W = A .window(4) .aggregate(n: count(), s: sum(v)) .emit(n: n, s: s)"


def counter(cluster: LocalCluster, name: str) -> int:
    text = cluster.coordinator.request("GET", "/metrics", raw=True)
    match = re.search(rf"^{name} (\d+)$", text, re.M)
    assert match, f"{name} is not in the coordinator's /metrics"
    return int(match.group(1))


def inject_values(cluster: LocalCluster, gid: str, values) -> list:
    outputs = []
    for v in values:
        answer = cluster.coordinator.inject(gid, "A", {"v": v})
        outputs += answer["worker_response"]["output_events"]
    return outputs


def placement(cluster: LocalCluster, gid: str) -> dict:
    return cluster.coordinator.group(gid)["placements"][0]


@pytest.fixture
def cluster(tmp_path):
    with LocalCluster(workers=2, run_dir=str(tmp_path / "run"), coordinator_args=["--checkpoint-interval", "0.2",
                                                                                  "--orphan-grace", "0.6"]) as c:
        yield c


def deploy_window(cluster: LocalCluster, affinity: str = "worker-0") -> str:
    return cluster.coordinator.deploy_group("g", [{"name": "w", "source": WINDOW, "worker_affinity": affinity}])["id"]


def test_a_drain_moves_the_window_with_its_events(cluster):
    gid = deploy_window(cluster)
    assert inject_values(cluster, gid, [1, 2]) == []
    drained = cluster.coordinator.drain("worker-0")
    assert (drained["status"], drained["moved"], drained["assigned_pipelines"]) == ("draining", 1, 0)
    assert placement(cluster, gid)["worker_id"] == "worker-1"
    # The two events before the drain are in the window that moved.
    assert inject_values(cluster, gid, [3, 4]) == [{"event_type": "W", "n": 4, "s": 10}]
    assert counter(cluster, "varpulis_cluster_pipeline_moves_total") == 1
    # The old copy is gone from worker-0.
    assert cluster.workers["worker-0"].pipelines()["total"] == 0


def test_sigterm_drains_the_worker_and_exits_zero(cluster):
    gid = deploy_window(cluster)
    inject_values(cluster, gid, [5, 6, 7])
    started = time.monotonic()
    assert cluster.stop_worker("worker-0") == 0
    took = time.monotonic() - started
    print(f"SIGTERM to exit, one pipeline moved: {took * 1000:.0f} ms")
    assert took < 25, "a drain must fit Kubernetes' default 30 s grace period"
    assert placement(cluster, gid)["worker_id"] == "worker-1"
    assert inject_values(cluster, gid, [8]) == [{"event_type": "W", "n": 4, "s": 26}]
    assert cluster.coordinator.worker("worker-0")["status"] in ("draining", "unhealthy")


def test_a_killed_worker_fails_over_from_the_last_checkpoint(cluster):
    gid = deploy_window(cluster)
    inject_values(cluster, gid, [10, 20, 30])
    # Wait for two checkpoints after the injects: the second surely saw them.
    taken = counter(cluster, "varpulis_cluster_checkpoints_total")
    wait_until(lambda: counter(cluster, "varpulis_cluster_checkpoints_total") >= taken + 2, what="a checkpoint after the injects")
    cluster.kill_worker("worker-0")
    killed = time.monotonic()
    # The first inject after the kill is refused by worker-0, held, and answered by the new copy.
    out = cluster.coordinator.inject(gid, "A", {"v": 40})
    print(f"kill -9 to the answer from the restored copy: {(time.monotonic() - killed) * 1000:.0f} ms")
    assert out["worker_id"] == "worker-1"
    assert out["worker_response"]["output_events"] == [{"event_type": "W", "n": 4, "s": 100}]
    assert counter(cluster, "varpulis_cluster_checkpoint_restores_total") == 1


def test_a_pipeline_returns_to_its_affinity_with_its_state(cluster):
    gid = deploy_window(cluster)
    assert cluster.stop_worker("worker-0") == 0
    assert placement(cluster, gid)["worker_id"] == "worker-1"
    inject_values(cluster, gid, [1, 1, 1])
    cluster.restart_worker("worker-0")
    wait_until(lambda: placement(cluster, gid)["worker_id"] == "worker-0", what="the pipeline back on worker-0")
    assert inject_values(cluster, gid, [2]) == [{"event_type": "W", "n": 4, "s": 5}]
    assert cluster.workers["worker-1"].pipelines()["total"] == 0


def test_a_group_may_opt_out_of_returning(cluster):
    c = cluster.coordinator
    gid = c.request("POST", "/api/v1/cluster/pipeline-groups",
                    {"name": "g", "rebalance": False, "pipelines": [{"name": "w", "source": WINDOW, "worker_affinity": "worker-0"}]})["id"]
    assert cluster.stop_worker("worker-0") == 0
    cluster.restart_worker("worker-0")
    cluster.wait_for_workers(2)
    time.sleep(0.5)  # a return would have happened at registration
    assert placement(cluster, gid)["worker_id"] == "worker-1"


def test_orphans_of_a_crash_are_removed_and_direct_deploys_kept(cluster):
    worker = cluster.workers["worker-1"]
    # What a coordinator that crashed mid-deploy leaves: a pipeline naming a group nobody knows.
    orphan = worker.request("POST", "/api/v1/pipelines", {"name": "o", "source": WINDOW, "group_id": "lost-group"})["id"]
    direct = worker.deploy("mine", WINDOW)["id"]
    wait_until(lambda: orphan not in [p["id"] for p in worker.pipelines()["pipelines"]], timeout=10, what="the orphan removed")
    assert [p["id"] for p in worker.pipelines()["pipelines"]] == [direct]
    assert counter(cluster, "varpulis_cluster_orphans_removed_total") == 1


def test_a_rolling_restart_under_load_answers_every_inject(cluster):
    c = cluster.coordinator
    gid = c.deploy_group("g", [{"name": "e", "source": "stream E = A .emit(v: v)"}])["id"]
    answers: list[int] = []
    errors: list[str] = []
    stop = threading.Event()

    def load() -> None:
        client = type(c)(c.url, cluster.api_key)
        seq = 0
        while not stop.is_set() and seq < 100_000:
            try:
                out = client.inject(gid, "A", {"v": seq})
                got = out["worker_response"]["output_events"]
                if got != [{"event_type": "E", "v": seq}]:
                    errors.append(f"event {seq}: {got}")
                answers.append(seq)
            except Exception as e:  # noqa: BLE001 - every failure is the finding
                errors.append(f"event {seq}: {e}")
            seq += 1

    thread = threading.Thread(target=load)
    thread.start()
    try:
        for wid in ("worker-0", "worker-1"):
            wait_until(lambda: len(answers) > 50, what="load flowing")
            assert cluster.stop_worker(wid) == 0
            cluster.restart_worker(wid)
            cluster.wait_for_workers(2)
            before = len(answers)
            wait_until(lambda: len(answers) > before + 50, what="load flowing after the restart")
    finally:
        stop.set()
        thread.join(30)
    print(f"rolling restart of 2 workers: {len(answers)} injects, {len(errors)} errors")
    assert errors == []
    assert answers == list(range(len(answers)))
    # Each stop drained (a kill would have been covered by failover: this says it was not one).
    assert counter(cluster, "varpulis_cluster_pipeline_moves_total") == 2
    assert counter(cluster, "varpulis_cluster_injects_given_up_total") == 0


def test_a_deploy_from_a_checkpoint_starts_with_its_state_and_a_bad_one_is_refused(cluster):
    from varpulis import ApiError
    worker = cluster.workers["worker-1"]
    first = worker.deploy("w", WINDOW)["id"]
    for v in (1, 2, 3):
        worker.inject(first, "A", {"v": v})
    state = worker.checkpoint(first)["checkpoint"]
    copy = worker.request("POST", "/api/v1/pipelines", {"name": "copy", "source": WINDOW, "checkpoint": state})["id"]
    assert worker.inject(copy, "A", {"v": 4})["output_events"] == [{"event_type": "W", "n": 4, "s": 10}]
    with pytest.raises(ApiError) as err:
        worker.request("POST", "/api/v1/pipelines", {"name": "bad", "source": WINDOW, "checkpoint": {"streams": 7}})
    assert (err.value.status, err.value.code) == (400, "invalid_checkpoint")
    # The restore-sized body limit of this route is for checkpoints only.
    with pytest.raises(ApiError) as err:
        worker.request("POST", "/api/v1/pipelines", {"name": "big", "source": WINDOW + " " * (2 << 20)})
    assert err.value.status == 413
    assert [p["name"] for p in worker.pipelines()["pipelines"]] == ["w", "copy"]
