# SPDX-License-Identifier: Apache-2.0
"""Idle and slow clients cannot lock anyone out: a cap per client address, a cap in total with
room kept for probes, a short header timeout, and accept that never stops. Against real worker
and coordinator processes; the attacker connects from 127.0.0.2, everyone else from 127.0.0.1."""

from __future__ import annotations

import re
import resource
import socket
import subprocess
import time

import pytest

from server_support import ServerProcess, raw_request
from varpulis import ApiError, CoordinatorClient

pytestmark = pytest.mark.integration

ATTACKER = "127.0.0.2"
PROGRAM = "stream S = Reading .where(value > 1) .emit(v: value)"


@pytest.fixture(autouse=True, scope="module")
def enough_descriptors():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 2500:
        pytest.skip(f"the open-file hard limit is {hard}: the test holds 2,000 sockets")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 4096) if hard == resource.RLIM_INFINITY else hard, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def idle_connections(port: int, count: int) -> list[socket.socket]:
    """Open `count` connections from the attacker's address that send nothing."""
    socks = []
    for _ in range(count):
        s = socket.socket()
        s.bind((ATTACKER, 0))
        s.settimeout(5)
        s.connect(("127.0.0.1", port))
        socks.append(s)
    return socks


def closed_by_server(s: socket.socket, within: float = 5.0) -> bool:
    s.settimeout(within)
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def metric(text: str, name: str, labels: str = "") -> float:
    match = re.search(rf"^{re.escape(name + ('{' + labels + '}' if labels else ''))} (\S+)$", text, re.M)
    assert match, f"{name}{{{labels}}} is not in /metrics"
    return float(match.group(1))


def answers(port: int) -> bool:
    try:
        return raw_request(port, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n").startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def close_all(socks: list[socket.socket]) -> None:
    for s in socks:
        s.close()


def test_a_thousand_idle_connections_from_one_client_lock_nobody_out(varpulis_bin):
    server = ServerProcess(varpulis_bin)
    socks = []
    try:
        socks = idle_connections(server.port, 1024)  # the defect's reproduction: 1,024 idle connections
        # Past its 256, the attacker's connections are closed at once; its first 256 stay open.
        assert closed_by_server(socks[-1]) and not closed_by_server(socks[0], within=0.2)
        client = server.client()
        assert client.health()["status"] == "healthy"
        assert client.deploy("p", PROGRAM)["status"] == "running"
        text = client.request("GET", "/metrics", raw=True)
        assert metric(text, "varpulis_http_connections_refused_total", 'reason="per_client"') >= 1024 - 256
    finally:
        close_all(socks)
        server.stop()


def test_the_coordinator_caps_connections_per_client_too(varpulis_bin, free_port, wait_until):
    port = free_port()
    proc = subprocess.Popen([varpulis_bin, "coordinator", "--port", str(port), "--api-key", "admin",
                             "--max-connections-per-client", "50"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    socks = []
    try:
        admin = CoordinatorClient(f"http://127.0.0.1:{port}", "admin")
        wait_until(lambda: answers(port), what="the coordinator up")
        socks = idle_connections(port, 200)
        assert closed_by_server(socks[-1])
        assert admin.workers()["total"] == 0
        assert metric(admin.request("GET", "/metrics", raw=True), "varpulis_http_connections_refused_total",
                      'reason="per_client"') >= 150
    finally:
        close_all(socks)
        proc.kill()
        proc.wait(timeout=10)


def test_a_full_server_still_answers_probes_and_says_why_it_refuses_the_rest(varpulis_bin, wait_until):
    # Many clients (here: one allowed 1,000) fill the 20 slots; 64 more answer probes only.
    server = ServerProcess(varpulis_bin, "--max-connections", "20", "--max-connections-per-client", "1000")
    socks = []
    try:
        socks = idle_connections(server.port, 20)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # the server counts them as they are accepted
            if metric(server.client().request("GET", "/metrics", raw=True), "varpulis_http_connections") >= 21:
                break
        health = raw_request(server.port, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert health.startswith(b"HTTP/1.1 200") and b"Connection: close" in health
        deploy = raw_request(server.port, b"POST /api/v1/pipelines HTTP/1.1\r\nHost: x\r\nx-api-key: test\r\n"
                                          b"Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
        assert deploy.startswith(b"HTTP/1.1 503") and b"too_many_connections" in deploy
        socks += idle_connections(server.port, 64 + 10)  # past the probe reserve: closed at accept
        assert closed_by_server(socks[-1])
        close_all(socks)
        socks = []
        # Once the idle ones are gone, everything is served again.
        def deployed() -> bool:
            try:
                return server.client().deploy("back", PROGRAM)["status"] == "running"
            except ApiError as e:
                if e.status == 503:  # a probe-only slot, until the server has seen the others close
                    return False
                raise
            except OSError:  # closed at accept: the server has not yet seen the idle ones close
                return False
        wait_until(deployed, timeout=5, what="a deploy once the idle connections closed")
        text = server.client().request("GET", "/metrics", raw=True)
        assert metric(text, "varpulis_http_probe_only_connections_total") >= 2
        assert metric(text, "varpulis_http_connections_refused_total", 'reason="full"') >= 10
    finally:
        close_all(socks)
        server.stop()


def test_slow_headers_are_cut_at_the_header_timeout_but_a_slow_body_has_the_request_timeout(varpulis_bin):
    server = ServerProcess(varpulis_bin, "--header-timeout", "1", "--request-timeout", "5")
    try:
        slow = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        started = time.monotonic()
        for byte in b"GET /health HTTP/1.1\r\n":  # a byte every 0.2 s: the headers never finish in time
            try:
                slow.send(bytes([byte]))
            except OSError:
                break
            time.sleep(0.2)
        assert closed_by_server(slow, within=3)
        slow.close()
        assert time.monotonic() - started < 4.5
        # Headers in at once, the body after 2 s (past the header timeout, within the request timeout).
        body = b'{"name": "late", "source": "stream S = Reading .emit(v: value)"}'
        late = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        late.sendall(b"POST /api/v1/pipelines HTTP/1.1\r\nHost: x\r\nx-api-key: test\r\nContent-Type: application/json\r\n"
                     b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n")
        time.sleep(2)
        late.sendall(body)
        assert late.recv(65536).startswith(b"HTTP/1.1 201")
        late.close()
        text = server.client().request("GET", "/metrics", raw=True)
        assert metric(text, "varpulis_http_timeouts_total", 'phase="headers"') >= 1
    finally:
        server.stop()


def test_the_open_file_limit_is_raised_to_the_hard_limit(varpulis_bin):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))  # the child starts with Debian's default soft limit
    try:
        server = ServerProcess(varpulis_bin)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    try:
        with open(f"/proc/{server.proc.pid}/limits") as f:
            limits = f.read()
        row = re.search(r"^Max open files\s+(\S+)\s+(\S+)", limits, re.M)
        assert row.group(1) == row.group(2), row.group(0)
    finally:
        server.stop()
