# SPDX-License-Identifier: Apache-2.0
"""Worker identity: a live worker's id cannot be taken by another registration, and a worker that
has stopped (or restarted at its address) takes its id back at once, without waiting for expiry."""

from __future__ import annotations

import signal
import subprocess

import pytest

from server_support import ServerProcess
from varpulis import ApiError, CoordinatorClient

pytestmark = pytest.mark.integration

REGISTER = "/api/v1/cluster/workers/register"


def start_coordinator(binary: str, port: int) -> subprocess.Popen:
    # A heartbeat timeout far longer than the test: nothing here may wait for a worker to expire.
    return subprocess.Popen([binary, "coordinator", "--port", str(port), "--api-key", "admin",
                             "--heartbeat-interval", "0.5", "--heartbeat-timeout", "120"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.fixture()
def coordinator(varpulis_bin, free_port, wait_until):
    port = free_port()
    proc = start_coordinator(varpulis_bin, port)
    admin = CoordinatorClient(f"http://127.0.0.1:{port}", "admin")
    wait_until(lambda: answers(admin), what="coordinator up")
    yield admin
    proc.kill()
    proc.wait(timeout=10)


def answers(client: CoordinatorClient) -> bool:
    try:
        return bool(client.health())
    except OSError:
        return False


def registered_address(admin: CoordinatorClient, worker_id: str) -> str | None:
    try:
        return admin.worker(worker_id)["address"]
    except ApiError:
        return None


def impostor(admin: CoordinatorClient, worker_id: str, address: str, **extra) -> ApiError | dict:
    raw = CoordinatorClient(admin.url, None)
    try:
        return raw.request("POST", REGISTER, {"worker_id": worker_id, "address": address, "api_key": "mine", **extra})
    except ApiError as e:
        return e


def test_a_live_workers_id_is_refused_to_another_registration(varpulis_bin, coordinator, wait_until):
    worker = ServerProcess(varpulis_bin, "--coordinator", coordinator.url, "--worker-id", "w1")
    try:
        wait_until(lambda: registered_address(coordinator, "w1") == worker.url, what="w1 registered")
        health = worker.client().health()
        # Its /health shows a digest of its secret, never the secret: copying it does not help.
        for extra in ({}, {"instance": health["instance"]}, {"instance": "guess"}, {"heartbeat_token": "guess"}):
            answer = impostor(coordinator, "w1", "http://127.0.0.1:1", **extra)
            assert isinstance(answer, ApiError) and (answer.status, answer.code) == (409, "worker_id_in_use"), extra
            assert "heartbeat_token" in answer.message
        assert registered_address(coordinator, "w1") == worker.url
        assert coordinator.worker("w1")["status"] == "ready"
    finally:
        worker.stop()


def test_a_manual_registration_is_replaced_with_its_heartbeat_token(varpulis_bin, coordinator):
    target = ServerProcess(varpulis_bin)  # a live address for the manual registration to name
    try:
        first = impostor(coordinator, "manual", target.url)
        assert first["status"] == "registered"
        again = impostor(coordinator, "manual", target.url)
        assert isinstance(again, ApiError) and again.status == 409
        replaced = impostor(coordinator, "manual", target.url, heartbeat_token=first["heartbeat_token"])
        assert replaced["status"] == "registered" and replaced["heartbeat_token"] != first["heartbeat_token"]
    finally:
        target.stop()


def test_an_id_whose_worker_was_killed_registers_again_at_once(varpulis_bin, coordinator, wait_until):
    worker = ServerProcess(varpulis_bin, "--coordinator", coordinator.url, "--worker-id", "w1")
    wait_until(lambda: registered_address(coordinator, "w1") == worker.url, what="w1 registered")
    worker.stop(signal.SIGKILL)
    # Still "ready" to the coordinator (120 s heartbeat timeout), but nothing answers at its address.
    assert coordinator.worker("w1")["status"] == "ready"
    answer = impostor(coordinator, "w1", "http://127.0.0.1:2")
    assert not isinstance(answer, ApiError), answer
    assert registered_address(coordinator, "w1") == "http://127.0.0.1:2"


def test_a_worker_restarted_at_its_address_takes_its_id_back_at_once(varpulis_bin, coordinator, wait_until):
    worker = ServerProcess(varpulis_bin, "--coordinator", coordinator.url, "--worker-id", "pod-0")
    wait_until(lambda: registered_address(coordinator, "pod-0") == worker.url, what="pod-0 registered")
    old_digest = worker.client().health()["instance"]
    port = worker.port
    worker.stop(signal.SIGKILL)
    # A StatefulSet pod: same name, same address, a new process, which answers there as itself.
    restarted = subprocess.Popen([varpulis_bin, "server", "--port", str(port), "--api-key", "test",
                                  "--coordinator", coordinator.url, "--worker-id", "pod-0"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        probe = CoordinatorClient(f"http://127.0.0.1:{port}", None)

        def ready() -> bool:
            try:
                return probe.request("GET", "/ready")["status"] == "ready"  # 200 only once registered
            except (ApiError, OSError):
                return False
        # Within its first registration attempts: the expiry (120 s) plays no part.
        wait_until(ready, timeout=10, what="the restarted pod registered again")
        assert probe.health()["instance"] != old_digest
        assert registered_address(coordinator, "pod-0") == f"http://127.0.0.1:{port}"
    finally:
        restarted.send_signal(signal.SIGTERM)
        restarted.wait(timeout=15)
